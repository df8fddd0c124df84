"""Conformance with HMRC's published behaviour, generated from contracts/hmrc/:

- every error in the error catalogue, triggered as HMRC's sandbox would be (a request that
  breaks the rule, a Gov-Test-Scenario, or the downstream answer injected through the
  control API), answered with exactly the catalogue's status and body;
- every Gov-Test-Scenario value in sandbox-scenarios.json, on its endpoint;
- the validation rules of each endpoint, at and either side of their limits.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from tests.hmrc_sandbox.contracts import CATALOGUE, SCENARIOS, catalogue_entries
from tests.hmrc_sandbox.helpers import ACCEPT, Simulator, User, valid_return

Trigger = Callable[[Simulator, User], Awaitable[httpx.Response]]
OBLIGATIONS_RANGE = "from=2017-01-01&to=2017-12-31"
FINANCIAL_RANGE = "from=2017-01-02&to=2017-02-02"


def obligations(query: str, headers: dict[str, str] | None = None) -> Trigger:
    async def go(sim: Simulator, user: User) -> httpx.Response:
        return await sim.vat(
            "GET", f"/{user.vrn}/obligations?{query}", user.access_token, headers=headers
        )

    return go


def financial(kind: str, query: str, headers: dict[str, str] | None = None) -> Trigger:
    async def go(sim: Simulator, user: User) -> httpx.Response:
        return await sim.vat(
            "GET", f"/{user.vrn}/{kind}?{query}", user.access_token, headers=headers
        )

    return go


def submit(body: Any = None, headers: dict[str, str] | None = None, **kwargs: Any) -> Trigger:
    async def go(sim: Simulator, user: User) -> httpx.Response:
        sent = body if body is not None else valid_return("18A1")
        if "content" in kwargs:
            return await sim.vat(
                "POST", f"/{user.vrn}/returns", user.access_token, headers=headers, **kwargs
            )
        return await sim.vat(
            "POST", f"/{user.vrn}/returns", user.access_token, headers=headers, json=sent
        )

    return go


def view(period_key: str, headers: dict[str, str] | None = None) -> Trigger:
    async def go(sim: Simulator, user: User) -> httpx.Response:
        return await sim.vat(
            "GET", f"/{user.vrn}/returns/{period_key}", user.access_token, headers=headers
        )

    return go


def downstream(endpoint: str, des: str, trigger: Trigger) -> Trigger:
    """The sandbox stub answers `des` (once), as HMRC's downstream system would."""

    async def go(sim: Simulator, user: User) -> httpx.Response:
        await sim.control("PUT", f"/faults/{endpoint}", {"downstream": des, "remaining": 1})
        return await trigger(sim, user)

    return go


def injected(status: int) -> Trigger:
    async def go(sim: Simulator, user: User) -> httpx.Response:
        await sim.control(
            "PUT", "/faults/obligations", {"error_rate": 1, "error_status": status, "remaining": 1}
        )
        return await obligations(OBLIGATIONS_RANGE)(sim, user)

    return go


def scenario(name: str) -> dict[str, str]:
    return {"Gov-Test-Scenario": name}


async def other_vrn(sim: Simulator, user: User) -> httpx.Response:
    someone_else = await sim.create_user()
    return await sim.vat(
        "GET", f"/{someone_else.vrn}/obligations?{OBLIGATIONS_RANGE}", user.access_token
    )


async def no_accept(sim: Simulator, user: User) -> httpx.Response:
    return await sim.vat(
        "GET",
        f"/{user.vrn}/obligations?{OBLIGATIONS_RANGE}",
        user.access_token,
        headers={"Accept": "application/json"},
    )


def amounts(**changes: Any) -> dict[str, Any]:
    return valid_return("18A1", **changes)


def without(field: str) -> dict[str, Any]:
    body = valid_return("18A1")
    del body[field]
    return body


# Each catalogue entry ("when") -> (request that triggers it, the field its /<field> names).
TRIGGERS: dict[str, tuple[Trigger, str | None]] = {
    # platform and routing
    "VRN path segment not ^\\d{9}$ (checked before auth)": (
        lambda sim, user: sim.vat(
            "GET", f"/12345678/obligations?{OBLIGATIONS_RANGE}", user.access_token
        ),
        None,
    ),
    "auth: no HMRC-MTD-VAT enrolment with matching VRN / agent not authorised": (other_vrn, None),
    "malformed JSON body (Play parser)": (
        submit(content=b'{"periodKey": ', headers={"Content-Type": "application/json"}),
        None,
    ),
    "wrong Content-Type on POST": (
        submit(content=b"periodKey=18A1", headers={"Content-Type": "text/plain"}),
        None,
    ),
    "unknown route": (
        lambda sim, user: sim.vat("GET", f"/{user.vrn}/obligationz", user.access_token),
        None,
    ),
    "Accept header missing/invalid": (no_accept, None),
    "unsupported API version in Accept": (
        obligations(OBLIGATIONS_RANGE, {"Accept": "application/vnd.hmrc.9.0+json"}),
        None,
    ),
    "unknown Gov-Test-Scenario (sandbox stub returns TEST_ONLY_UNMATCHED_STUB_ERROR)": (
        obligations(OBLIGATIONS_RANGE, scenario("NO_SUCH_SCENARIO")),
        None,
    ),
    "downstream 5xx / unmapped downstream error / multiple downstream errors": (
        injected(500),
        None,
    ),
    "downstream SERVICE_UNAVAILABLE": (injected(503), None),
    "insolvent trader (any endpoint; DES INSOLVENT_TRADER)": (
        obligations(OBLIGATIONS_RANGE, scenario("INSOLVENT_TRADER")),
        None,
    ),
    # obligations
    "no from/to/status at all; from missing; from not a date": (obligations(""), None),
    "to missing (from present) or to not a date": (obligations("from=2017-01-01"), None),
    "status not O/F (or from/to absent and status not O/F)": (obligations("status=X"), None),
    "from/to absent and status=F": (obligations("status=F"), None),
    "date range invalid (from>=to or > 1 year)": (
        obligations("from=2017-01-01&to=2017-01-01"),
        None,
    ),
    "DES INVALID_IDNUMBER": (
        downstream("obligations", "INVALID_IDNUMBER", obligations(OBLIGATIONS_RANGE)),
        None,
    ),
    "DES INVALID_STATUS": (
        downstream("obligations", "INVALID_STATUS", obligations(OBLIGATIONS_RANGE)),
        None,
    ),
    "DES INVALID_DATE_FROM": (
        downstream("obligations", "INVALID_DATE_FROM", obligations(OBLIGATIONS_RANGE)),
        None,
    ),
    "DES INVALID_DATE_TO": (
        downstream("obligations", "INVALID_DATE_TO", obligations(OBLIGATIONS_RANGE)),
        None,
    ),
    "DES INVALID_DATE_RANGE": (
        downstream("obligations", "INVALID_DATE_RANGE", obligations(OBLIGATIONS_RANGE)),
        None,
    ),
    "DES NOT_FOUND (sandbox scenario NOT_FOUND)": (
        obligations(OBLIGATIONS_RANGE, scenario("NOT_FOUND")),
        None,
    ),
    # submit: one rule broken at a time
    "periodKey fails ^[#0-9A-Z]{4}$": (submit(amounts(periodKey="18a1")), None),
    "periodKey not a string": (submit(amounts(periodKey=1801)), None),
    "numeric field not a number": (submit(amounts(vatDueSales="105.50")), "vatDueSales"),
    "finalised not boolean": (submit(amounts(finalised="true")), None),
    "field missing": (submit(without("totalValuePurchasesExVAT")), "totalValuePurchasesExVAT"),
    "2dp field out of range or >2dp": (submit(amounts(vatDueSales=105.505)), "vatDueSales"),
    "netVatDue out of range, negative or >2dp": (submit(amounts(netVatDue=-100.1)), None),
    "ExVAT field out of range or not whole": (
        submit(amounts(totalValueSalesExVAT=300.5)),
        "totalValueSalesExVAT",
    ),
    "totalVatDue != vatDueSales + vatDueAcquisitions": (
        submit(amounts(totalVatDue=5.06, netVatDue=100.09)),
        None,
    ),
    "netVatDue != |totalVatDue - vatReclaimedCurrPeriod|": (
        submit(amounts(netVatDue=100.11)),
        None,
    ),
    "finalised == false": (submit(amounts(finalised=False)), None),
    # view return
    "periodKey path invalid": (view("18A"), None),
    "DES INVALID_PERIODKEY": (downstream("view_return", "INVALID_PERIODKEY", view("18A1")), None),
    "DES INVALID_IDENTIFIER": (downstream("view_return", "INVALID_IDENTIFIER", view("18A1")), None),
    "DES DATE_RANGE_TOO_LARGE (sandbox scenario DATE_RANGE_TOO_LARGE)": (
        view("18A1", scenario("DATE_RANGE_TOO_LARGE")),
        None,
    ),
    "DES INVALID_INPUTDATA": (downstream("view_return", "INVALID_INPUTDATA", view("18A1")), None),
    "DES NOT_FOUND (period key never submitted)": (view("ZZZZ"), None),
    # liabilities and payments
    "from missing/invalid/too early": (
        financial("liabilities", "from=2016-04-05&to=2017-01-01"),
        None,
    ),
    "to missing/invalid/in future": (financial("payments", "from=2017-01-01&to=2017-02-30"), None),
    "range invalid": (financial("liabilities", "from=2017-01-01&to=2018-01-01"), None),
    "DES INVALID_DATEFROM / INVALID_DATETO": (
        downstream("liabilities", "INVALID_DATEFROM", financial("liabilities", FINANCIAL_RANGE)),
        None,
    ),
    "DES INVALID_DATA": (
        downstream("payments", "INVALID_DATA", financial("payments", FINANCIAL_RANGE)),
        None,
    ),
    "DES NOT_FOUND (sandbox default, no scenario header)": (
        financial("liabilities", FINANCIAL_RANGE),
        None,
    ),
    "payments: duplicate paymentLot+paymentLotItem": (
        downstream("payments", "DUPLICATE_PAYMENT", financial("payments", FINANCIAL_RANGE)),
        None,
    ),
}

# Submit's downstream errors, keyed by the DES code they come from.
DOWNSTREAM_SUBMIT: dict[str, Trigger] = {
    "400 INVALID_VRN": submit(headers=scenario("INVALID_VRN")),
    "400 INVALID_PERIODKEY": submit(headers=scenario("INVALID_PERIODKEY")),
    "400 INVALID_PAYLOAD": submit(headers=scenario("INVALID_PAYLOAD")),
    "403 TAX_PERIOD_NOT_ENDED": submit(headers=scenario("TAX_PERIOD_NOT_ENDED")),
    "409 DUPLICATE_SUBMISSION": submit(headers=scenario("DUPLICATE_SUBMISSION")),
    "403 INSOLVENT_TRADER": submit(headers=scenario("INSOLVENT_TRADER")),
    "NOT_FOUND_VRN | INVALID_SUBMISSION | INVALID_ORIGINATOR_ID | SERVER_ERROR": downstream(
        "submit_return", "INVALID_ORIGINATOR_ID", submit()
    ),
}


def _key(section: str, entry: dict[str, Any]) -> str:
    return str(entry["des"] if section == "submit_return.downstream" else entry["when"])


ENTRIES = catalogue_entries()


def test_every_catalogue_entry_has_a_trigger() -> None:
    missing = [
        (section, _key(section, entry))
        for section, _, entry in ENTRIES
        if _key(section, entry)
        not in (DOWNSTREAM_SUBMIT if section == "submit_return.downstream" else TRIGGERS)
    ]
    assert missing == []


def expected_body(entry: dict[str, Any], field: str | None) -> Any:
    body = copy.deepcopy(entry["body"])
    if body is not None and "|" in str(body.get("code", "")):  # A|B: one DES code each
        body = {k: v.split("|")[0] for k, v in body.items()}
    for inner in (body or {}).get("errors", []):
        if inner.get("path") == "/<field>":
            assert field is not None
            inner["path"] = f"/{field}"
    return body


@pytest.mark.parametrize(
    ("section", "entry"),
    [(s, e) for s, _, e in ENTRIES],
    ids=[f"{s}:{_key(s, e)[:50]}" for s, _, e in ENTRIES],
)
async def test_catalogue_error(simulator: Simulator, section: str, entry: dict[str, Any]) -> None:
    user = await simulator.connected_user()
    if section == "submit_return.downstream":
        trigger, field = DOWNSTREAM_SUBMIT[entry["des"]], None
    else:
        trigger, field = TRIGGERS[entry["when"]]
    response = await trigger(simulator, user)
    assert response.status_code == entry["status"], response.text
    expected = expected_body(entry, field)
    if expected is None:
        assert response.content == b""
    else:
        assert response.json() == expected
    assert len(response.headers["X-CorrelationId"]) == 36


async def test_multiple_field_errors_are_reported_together_as_hmrc_does(
    simulator: Simulator,
) -> None:
    example = CATALOGUE["submit_return"]["multiple_errors"]["example_from_ISpec"]
    user = await simulator.connected_user()
    response = await submit(
        amounts(vatReclaimedCurrPeriod=105.155, totalAcquisitionsExVAT=99999999999999)
    )(simulator, user)
    assert response.status_code == CATALOGUE["submit_return"]["multiple_errors"]["status"]
    assert response.json() == example


# -- every Gov-Test-Scenario value ---------------------------------------------------------------
def _expand(name: str) -> list[str]:
    if "##" not in name:
        return [name]
    last = 12 if name.startswith("MONTHLY") else 4
    return [name.replace("##", f"{n:02d}") for n in range(1, last + 1)]


def _listed(section: str) -> list[str]:
    names = [k for k in SCENARIOS[section] if not k.startswith("_") and not k.startswith("DEFAULT")]
    return [n for name in names for n in _expand(name)]


def _error_for(code: str) -> dict[str, Any]:
    for _, _, entry in ENTRIES:
        body = entry["body"]
        if body and (
            body.get("code") == code or any(e.get("code") == code for e in body.get("errors", []))
        ):
            return {"status": entry["status"], "body": body}
    raise LookupError(code)


@pytest.mark.parametrize("name", _listed("obligations"))
async def test_obligations_scenario(simulator: Simulator, name: str) -> None:
    user = await simulator.connected_user()
    response = await obligations(OBLIGATIONS_RANGE, scenario(name))(simulator, user)
    if name in ("INSOLVENT_TRADER", "NOT_FOUND"):
        expected = _error_for(
            "RULE_INSOLVENT_TRADER" if name == "INSOLVENT_TRADER" else "NOT_FOUND"
        )
        assert response.status_code == expected["status"]
        if name == "INSOLVENT_TRADER":
            assert response.json() == expected["body"]
        else:
            assert response.json() == CATALOGUE["obligations"]["errors"][-1]["body"]
        return
    assert response.status_code == 200, response.text
    items = response.json()["obligations"]
    statuses = [o["status"] for o in items]
    described = SCENARIOS["obligations"].get(name) or next(
        v for k, v in SCENARIOS["obligations"].items() if "##" in k and k.split("##")[0] in name
    )
    words = {"NONE": 0, "ONE": 1, "TWO": 2, "THREE": 3, "FOUR": 4}
    if name.endswith("_MET"):
        assert statuses.count("F") == words[name.split("_")[1]]
    if "_OBS_" in name and name.endswith("_OPEN"):
        number = int(name.split("_")[2])
        assert len(items) == number and statuses[-1] == "O" and statuses.count("F") == number - 1
        assert all(o["start"].startswith("2018") for o in items)
    if name.endswith("_FULFILLED"):
        assert set(statuses) == {"F"} and "all fulfilled" in described
    if name.startswith("MULTIPLE_OPEN"):
        assert statuses.count("O") == 2
    if name == "OBS_SPANS_MULTIPLE_YEARS":
        assert items[0]["start"][:4] == "2018" and items[0]["end"][:4] == "2019"
    if "MONTHLY" in name or "QUARTERLY" in name:
        assert ("monthly" if "MONTHLY" in name else "quarterly") in described
    for item in items:
        assert ("received" in item) == (item["status"] == "F")


async def test_default_obligations_follow_the_published_example_shape(simulator: Simulator) -> None:
    user = await simulator.connected_user()
    published = [
        {
            "start": "2017-01-01",
            "end": "2017-03-31",
            "due": "2017-05-07",
            "status": "F",
            "periodKey": "18A1",
            "received": "2017-05-06",
        },
        {
            "start": "2017-04-01",
            "end": "2017-06-30",
            "due": "2017-08-07",
            "status": "O",
            "periodKey": "18A2",
        },
    ]
    response = await obligations(OBLIGATIONS_RANGE, scenario("QUARTERLY_ONE_MET"))(simulator, user)
    assert response.json() == {"obligations": published}


@pytest.mark.parametrize("name", _listed("submit_return"))
async def test_submit_scenario(simulator: Simulator, name: str) -> None:
    user = await simulator.connected_user()
    response = await submit(headers=scenario(name))(simulator, user)
    if name == "DEFAULT":
        assert response.status_code == 201
        return
    described = SCENARIOS["submit_return"][name]  # e.g. "400 {code:VRN_INVALID, message:...}"
    assert response.status_code == int(described.split()[0])
    named = re.search(r"code:([A-Z_]+)", described)
    assert response.json()["code"] == (named[1] if named else described.split()[1])
    if "message:'" in described:
        assert response.json()["message"] == described.split("message:'")[1].split("'")[0]
    # A scenario's error stores nothing: the period can still be filed.
    assert (await submit()(simulator, user)).status_code == 201


@pytest.mark.parametrize("name", _listed("view_return"))
async def test_view_scenario(simulator: Simulator, name: str) -> None:
    user = await simulator.connected_user()
    response = await view("18A1", scenario(name))(simulator, user)
    expected = (
        next(e for e in CATALOGUE["view_return"]["errors"] if "DATE_RANGE_TOO_LARGE" in e["when"])
        if name == "DATE_RANGE_TOO_LARGE"
        else _error_for("RULE_INSOLVENT_TRADER")
    )
    assert response.status_code == expected["status"]
    assert response.json() == expected["body"]


WINDOWS = {
    "SINGLE_LIABILITY": "from=2017-01-02&to=2017-02-02",
    "MULTIPLE_LIABILITIES": "from=2017-04-05&to=2017-12-21",
    "SINGLE_LIABILITY_2018_19": "from=2018-01-02&to=2018-02-02",
    "MULTIPLE_LIABILITIES_2018_19": "from=2018-04-05&to=2018-12-21",
    "SINGLE_PAYMENT": "from=2017-01-02&to=2017-02-02",
    "MULTIPLE_PAYMENTS": "from=2017-02-27&to=2017-12-21",
    "SINGLE_PAYMENT_2018_19": "from=2018-01-02&to=2018-02-02",
    "MULTIPLE_PAYMENTS_2018_19": "from=2018-02-27&to=2018-12-21",
}


@pytest.mark.parametrize(
    ("kind", "name"),
    [("liabilities", n) for n in _listed("liabilities")]
    + [("payments", n) for n in _listed("payments")],
)
async def test_financial_scenario(simulator: Simulator, kind: str, name: str) -> None:
    user = await simulator.connected_user()
    described = SCENARIOS[kind][name]
    if name == "INSOLVENT_TRADER":
        response = await financial(kind, FINANCIAL_RANGE, scenario(name))(simulator, user)
        assert response.status_code == 403
        assert response.json() == _error_for("RULE_INSOLVENT_TRADER")["body"]
        return
    window = WINDOWS[name]
    assert window in described  # the window the published scenario names
    response = await financial(kind, window, scenario(name))(simulator, user)
    assert response.status_code == 200, response.text
    items = response.json()[kind]
    assert (len(items) == 1) == name.startswith("SINGLE")
    if kind == "liabilities":
        start, end = window.replace("from=", "").split("&to=")
        assert all(start <= i["taxPeriod"]["to"] <= end for i in items)
    # Outside its window the scenario has nothing: HMRC's 404.
    elsewhere = await financial(kind, "from=2019-06-01&to=2019-07-01", scenario(name))(
        simulator, user
    )
    assert elsewhere.status_code == 404


# -- validation rules at their limits --------------------------------------------------------------
@pytest.mark.parametrize(
    ("query", "status", "message"),
    [
        ("status=O", 200, None),
        ("from=2017-01-01&to=2018-01-01", 200, None),  # exactly one year
        ("from=2017-01-01&to=2018-01-02", 400, "INVALID_DATE_RANGE"),
        ("from=2017-01-02&to=2017-01-01", 400, "INVALID_DATE_RANGE"),
        ("from=2017-02-30&to=2017-12-01", 400, "INVALID_DATE_FROM"),
        ("from=2017-1-01&to=2017-12-01", 400, "INVALID_DATE_FROM"),
        ("from=2017-01-01&to=2017-13-01", 400, "INVALID_DATE_TO"),
        ("to=2017-12-01", 400, "INVALID_DATE_FROM"),
        ("from=2017-01-01&to=2017-12-01&status=", 400, "INVALID_STATUS"),
        ("from=2017-01-01&to=2017-12-01&status=o", 400, "INVALID_STATUS"),
        ("from=bad&to=bad&status=bad", 400, "INVALID_DATE_FROM"),  # from is checked first
        ("status=", 400, "INVALID_STATUS"),
    ],
)
async def test_obligations_parameter_rules(
    simulator: Simulator, query: str, status: int, message: str | None
) -> None:
    user = await simulator.connected_user()
    response = await obligations(query, scenario("QUARTERLY_ONE_MET"))(simulator, user)
    assert response.status_code == status, response.text
    if message is not None:
        assert response.json() == {"statusCode": 400, "message": message}


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("from=2016-04-06&to=2017-04-05", None),  # earliest from; a year less a day
        ("from=2016-04-06&to=2017-04-06", "DATE_RANGE_INVALID"),
        ("from=2016-04-05&to=2017-01-01", "DATE_FROM_INVALID"),
        ("to=2017-01-01", "DATE_FROM_INVALID"),
        ("from=2017-01-01", "DATE_TO_INVALID"),
        ("from=2017-01-01&to=2999-01-01", "DATE_TO_INVALID"),
        ("from=2017-02-01&to=2017-02-01", "DATE_RANGE_INVALID"),
    ],
)
async def test_financial_parameter_rules(
    simulator: Simulator, query: str, message: str | None
) -> None:
    user = await simulator.connected_user()
    response = await financial("payments", query)(simulator, user)
    if message is None:  # valid: the sandbox default then answers no data
        assert response.status_code == 404
        assert response.json()["code"] == "NOT_FOUND"
    else:
        assert response.status_code == 400
        assert response.json() == {"statusCode": 400, "message": message}


@pytest.mark.parametrize(
    ("changes", "accepted"),
    [
        (
            {
                "vatDueSales": 9999999999999.99,
                "vatDueAcquisitions": 0,
                "totalVatDue": 9999999999999.99,
                "vatReclaimedCurrPeriod": 9999999999900,
                "netVatDue": 99.99,
            },
            True,
        ),
        ({"totalValueSalesExVAT": 9999999999999}, True),
        ({"totalValueSalesExVAT": 10000000000000}, False),
        ({"totalValueSalesExVAT": 500.00}, True),  # whole, written with decimals
        ({"netVatDue": 0, "vatReclaimedCurrPeriod": 5.05}, True),
        ({"vatDueSales": 105.500, "vatDueAcquisitions": -100.450}, True),  # JSON drops zeros
        ({"periodKey": "#001"}, True),
        ({"periodKey": "A0011"}, False),
        ({"finalised": None}, False),
        ({"vatDueSales": True}, False),
    ],
)
async def test_return_value_rules(
    simulator: Simulator, changes: dict[str, Any], accepted: bool
) -> None:
    user = await simulator.connected_user()
    response = await submit(amounts(**changes))(simulator, user)
    assert (response.status_code == 201) == accepted, response.text
    if not accepted:
        assert response.status_code == 400
        assert response.json()["code"] == "INVALID_REQUEST"


async def test_amounts_with_three_decimal_places_written_out_are_refused(
    simulator: Simulator,
) -> None:
    """1.000 has a scale of 3 for HMRC's BigDecimal, though it is a whole number."""
    user = await simulator.connected_user()
    raw = (
        b'{"periodKey":"18A1","vatDueSales":105.500,"vatDueAcquisitions":-100.45,'
        b'"totalVatDue":5.05,"vatReclaimedCurrPeriod":105.15,"netVatDue":100.1,'
        b'"totalValueSalesExVAT":300,"totalValuePurchasesExVAT":300,'
        b'"totalValueGoodsSuppliedExVAT":3000,"totalAcquisitionsExVAT":3000,"finalised":true}'
    )
    response = await simulator.vat(
        "POST",
        f"/{user.vrn}/returns",
        user.access_token,
        content=raw,
        headers={"Content-Type": "application/json", "Accept": ACCEPT},
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["path"] == "/vatDueSales"
