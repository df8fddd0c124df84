"""Create Test User API: organisations with the service enrolments asked for.

Service names come from HMRC's request schema (contracts/hmrc/api-platform-test-user/conf/
1.0/schemas/create-organisation-request.json); the answer has the fields of HMRC's example
response for the identifiers those services generate.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.common import hmrc_contracts as contracts
from services.common.hmrc_errors import HmrcError, Rejected
from services.hmrc_sandbox.clock import Ids
from services.hmrc_sandbox.obligations import add_months, period_start
from services.hmrc_sandbox.records import TestUser, digest


def _service_names() -> frozenset[str]:
    schema = contracts.load(contracts.TEST_USER_ORGANISATION_REQUEST)
    items = schema["properties"]["serviceNames"]["items"]["oneOf"]
    return frozenset(option["enum"][0] for option in items)


SERVICE_NAMES = _service_names()
VAT_SERVICES = frozenset({"mtd-vat", "submit-vat-returns"})


def invalid(message: str) -> Rejected:
    return Rejected(HmrcError(400, {"code": "INVALID_REQUEST", "message": message}))


def requested_services(body: Any) -> list[str]:
    """`serviceNames` from the request body (no body: no enrolments)."""
    if body is None:
        return []
    if not isinstance(body, dict):
        raise invalid("The request body must be a JSON object")
    names = body.get("serviceNames")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise invalid("serviceNames must be a list of service names")
    unknown = sorted(set(names) - SERVICE_NAMES)
    if unknown:
        raise invalid(f"Unknown service names: {', '.join(unknown)}")
    return list(dict.fromkeys(names))


def vrn_check_digits(first_seven: str) -> str:
    """HMRC's mod-97 check: the weighted sum (8..2) plus the last two digits is 0 mod 97."""
    total = sum(int(d) * w for d, w in zip(first_seven, range(8, 1, -1), strict=True))
    return f"{(-total) % 97:02d}"


def new_vrn(ids: Ids, taken: set[str] | dict[str, Any]) -> str:
    while True:
        first_seven = ids.digits(7)
        vrn = first_seven + vrn_check_digits(first_seven)
        if vrn not in taken and not vrn.startswith("0"):
            return vrn


_FIRST = ["Ida", "Grace", "Alan", "Ada", "Tim", "Mary", "John", "Sophie", "Dev", "Nia"]
_LAST = ["Newton", "Hopper", "Turing", "Lovelace", "Berners-Lee", "Somerville", "Ng", "Khan"]


def create_organisation(
    ids: Ids, now: datetime, services: list[str], taken_vrns: dict[str, Any]
) -> tuple[TestUser, dict[str, Any]]:
    """A new organisation test user and HMRC's answer (with the password, shown once)."""
    user_id = ids.digits(12)
    password = ids.lower(12)
    first, last = ids.choice(_FIRST), ids.choice(_LAST)
    company = f"Company {ids.alnum(6).upper()}"
    # Obligations start a year back, so a new VRN has periods that have ended and are open.
    calendar_start = period_start(add_months(now.date(), -12), "quarterly")
    answer: dict[str, Any] = {
        "userId": user_id,
        "password": password,
        "userFullName": f"{first} {last}",
        "emailAddress": f"{first}.{last}@example.com".lower(),
        "organisationDetails": {
            "name": company,
            "address": {
                "line1": f"{ids.digits(2)} Abbey Road",
                "line2": "Aberdeen",
                "postcode": "TS1 1PA",
            },
        },
    }
    vrn = ""
    for service in services:
        answer.update(_identifiers(ids, service, answer))
    if VAT_SERVICES & set(services):
        vrn = new_vrn(ids, taken_vrns)
        answer["vrn"] = vrn
        if "mtd-vat" in services:
            answer["vatRegistrationDate"] = calendar_start.isoformat()
    profile = {k: v for k, v in answer.items() if k != "password"}
    user = TestUser(
        user_id=user_id,
        password_digest=digest(password),
        vrn=vrn,
        profile=profile,
        created_at=now,
        calendar_start=calendar_start,
        services=services,
    )
    return user, answer


def _identifiers(ids: Ids, service: str, answer: dict[str, Any]) -> dict[str, Any]:
    if service == "corporation-tax":
        return {"ctUtr": ids.digits(10), "crn": ids.digits(8)}
    if service == "paye-for-employers":
        return {"empRef": f"{ids.digits(3)}/{ids.alnum(10).upper()}"}
    if service == "self-assessment":
        return {"saUtr": ids.digits(10)}
    if service in {"national-insurance", "mtd-income-tax"}:
        nino = answer.get("nino") or f"XM{ids.digits(6)}D"
        extra = {"mtdItId": f"XJIT{ids.digits(11)}"} if service == "mtd-income-tax" else {}
        return {"nino": nino, **extra}
    if service == "lisa":
        return {"lisaManagerReferenceNumber": f"Z{ids.digits(6)}"}
    if service == "secure-electronic-transfer":
        return {"secureElectronicTransferReferenceNumber": ids.digits(12)}
    if service == "relief-at-source":
        return {"pensionSchemeAdministratorIdentifier": f"A{ids.digits(7)}"}
    if service == "excise-movement-control-system":
        return {"exciseNumber": f"GBWK{ids.digits(9)}"}
    if service == "pillar-2":
        return {"pillar2Id": f"XA{ids.digits(13)}"}
    if service in {
        "customs-services",
        "goods-vehicle-movements",
        "import-control-system",
        "safety-and-security",
        "common-transit-convention-traders",
        "common-transit-convention-traders-legacy",
        "modernisation-of-authorisations",
    }:
        return {"eoriNumber": answer.get("eoriNumber") or f"GB{ids.digits(12)}"}
    return {}
