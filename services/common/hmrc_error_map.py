"""HMRC's error answers mapped to the platform's: a stable code, the HTTP status the caller
gets, a message a person can read and what to do about it.

HMRC's own code is kept where it means one thing; codes HMRC uses for several things
(`INVALID_REQUEST`, `NOT_FOUND`) or that collide with the platform's own generic codes get
a name of their own. HMRC 4xx stays 4xx; HMRC 5xx becomes 502/503/504 (the fault is
upstream, not ours).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.common import hmrc_contracts as contracts


@dataclass(frozen=True)
class Mapping:
    code: str
    status: int
    message: str
    action: str
    retryable: bool = False


@dataclass(frozen=True)
class MappedError:
    code: str
    status: int
    message: str
    action: str
    retryable: bool
    hmrc_status: int
    hmrc_code: str | None
    hmrc_message: str | None
    # Field errors inside HMRC's envelope, each with its own platform code.
    errors: tuple[dict[str, Any], ...] = ()

    def problem_extra(self) -> dict[str, Any]:
        extra: dict[str, Any] = {
            "hmrc_status": self.hmrc_status,
            "hmrc_code": self.hmrc_code,
            "action": self.action,
            "retryable": self.retryable,
        }
        if self.errors:
            extra["errors"] = list(self.errors)
        return extra


_FIX_REQUEST = "Correct the request and send it again."
_RECONNECT = "Ask the business to reconnect this VRN to HMRC, then try again."
_LATER = "Nothing to correct; try again later."
_CONTACT = "Contact platform support quoting the correlation id."

# HMRC code -> platform meaning. Keyed by HMRC code, or (code, HMRC status) where HMRC gives
# one code two meanings.
MAPPINGS: dict[str | tuple[str, int], Mapping] = {
    # -- VRN and authorisation --
    "VRN_INVALID": Mapping("VRN_INVALID", 400, "The VRN is not valid.", _FIX_REQUEST),
    "CLIENT_OR_AGENT_NOT_AUTHORISED": Mapping(
        "HMRC_NOT_AUTHORISED_FOR_VRN",
        403,
        "HMRC says the connected user may not act for this VRN.",
        "Reconnect the VRN with a user enrolled for MTD VAT for this business (or its agent).",
    ),
    "MISSING_CREDENTIALS": Mapping(
        "HMRC_REAUTHORISATION_REQUIRED", 409, "HMRC did not receive credentials.", _RECONNECT
    ),
    "INVALID_CREDENTIALS": Mapping(
        "HMRC_REAUTHORISATION_REQUIRED",
        409,
        "HMRC no longer accepts the connection's access token.",
        _RECONNECT,
    ),
    "UNAUTHORIZED": Mapping(
        "HMRC_REAUTHORISATION_REQUIRED", 409, "HMRC refused the connection.", _RECONNECT
    ),
    "INCORRECT_ACCESS_TOKEN_TYPE": Mapping(
        "HMRC_WRONG_TOKEN_TYPE",
        409,
        "HMRC needs a user's authority for this call, not the application's.",
        _RECONNECT,
    ),
    "INVALID_SCOPE": Mapping(
        "HMRC_SCOPE_MISSING",
        403,
        "The connection to HMRC lacks the permission this needs.",
        "Reconnect the VRN granting read:vat and write:vat.",
    ),
    "FORBIDDEN": Mapping(
        "HMRC_FORBIDDEN", 403, "HMRC refused access to this tax identifier.", _RECONNECT
    ),
    "RESOURCE_FORBIDDEN": Mapping(
        "HMRC_APPLICATION_NOT_SUBSCRIBED",
        403,
        "The platform's HMRC application is not subscribed to this API.",
        _CONTACT,
    ),
    "HTTPS_REQUIRED": Mapping("HMRC_HTTPS_REQUIRED", 403, "HMRC requires HTTPS.", _CONTACT),
    "RULE_INSOLVENT_TRADER": Mapping(
        "INSOLVENT_TRADER",
        403,
        "HMRC records this business as insolvent; it cannot use this service.",
        "The business should contact HMRC.",
    ),
    # -- the request itself --
    "INVALID_REQUEST": Mapping(
        "HMRC_INVALID_REQUEST", 400, "HMRC found errors in the request.", _FIX_REQUEST
    ),
    ("INVALID_REQUEST", 403): Mapping(
        "HMRC_INVALID_INPUT_DATA", 403, "HMRC could not process the input data.", _FIX_REQUEST
    ),
    "INVALID_BODY_TYPE": Mapping(
        "HMRC_INVALID_BODY_TYPE", 415, "HMRC expected a JSON body.", _CONTACT
    ),
    "MATCHING_RESOURCE_NOT_FOUND": Mapping(
        "HMRC_RESOURCE_NOT_FOUND", 404, "HMRC has no such endpoint.", _CONTACT
    ),
    "METHOD_NOT_ALLOWED": Mapping(
        "HMRC_METHOD_NOT_ALLOWED", 405, "HMRC does not allow this method.", _CONTACT
    ),
    "ACCEPT_HEADER_INVALID": Mapping(
        "HMRC_ACCEPT_HEADER_INVALID", 406, "HMRC refused the Accept header.", _CONTACT
    ),
    "RULE_INCORRECT_GOV_TEST_SCENARIO": Mapping(
        "HMRC_UNKNOWN_TEST_SCENARIO",
        400,
        "HMRC's sandbox does not know this Gov-Test-Scenario.",
        "Use a scenario listed for this endpoint.",
    ),
    # -- obligations and financial date ranges --
    "INVALID_DATE_FROM": Mapping(
        "INVALID_DATE_FROM", 400, "The from date is invalid.", _FIX_REQUEST
    ),
    "INVALID_DATE_TO": Mapping("INVALID_DATE_TO", 400, "The to date is invalid.", _FIX_REQUEST),
    "DATE_FROM_INVALID": Mapping(
        "INVALID_DATE_FROM", 400, "The from date is invalid.", _FIX_REQUEST
    ),
    "DATE_TO_INVALID": Mapping("INVALID_DATE_TO", 400, "The to date is invalid.", _FIX_REQUEST),
    "INVALID_DATE_RANGE": Mapping(
        "INVALID_DATE_RANGE",
        400,
        "The date range is invalid: from must be before to, at most a year apart.",
        _FIX_REQUEST,
    ),
    "DATE_RANGE_INVALID": Mapping(
        "INVALID_DATE_RANGE",
        400,
        "The date range is invalid: from must be before to, at most a year apart.",
        _FIX_REQUEST,
    ),
    "MISSING_DATE_RANGE": Mapping(
        "MISSING_DATE_RANGE",
        400,
        "A date range is needed unless asking for open obligations.",
        _FIX_REQUEST,
    ),
    "INVALID_STATUS": Mapping(
        "INVALID_OBLIGATION_STATUS", 400, "The status must be O or F.", _FIX_REQUEST
    ),
    "DATE_RANGE_TOO_LARGE": Mapping(
        "DATE_RANGE_TOO_LARGE",
        400,
        "The period asked for is more than four years from today.",
        _FIX_REQUEST,
    ),
    ("DATE_RANGE_TOO_LARGE", 403): Mapping(
        "DATE_RANGE_TOO_LARGE",
        403,
        "The period asked for is more than four years from today.",
        _FIX_REQUEST,
    ),
    "INVALID_DATA": Mapping("HMRC_INVALID_DATA", 400, "HMRC found the data invalid.", _FIX_REQUEST),
    "NOT_FOUND": Mapping(
        "HMRC_NO_DATA_FOUND",
        404,
        "HMRC has no data for this request.",
        "Check the VRN and dates; nothing is wrong if there is simply nothing to show.",
    ),
    "RULE_DUPLICATE_PAYMENT": Mapping(
        "HMRC_DUPLICATE_PAYMENT", 409, "HMRC found a duplicated payment record.", _CONTACT
    ),
    # -- returns --
    "PERIOD_KEY_INVALID": Mapping(
        "PERIOD_KEY_INVALID",
        400,
        "The period key is not valid.",
        "Use a period key from the obligations.",
    ),
    ("PERIOD_KEY_INVALID", 404): Mapping(
        "PERIOD_KEY_INVALID",
        404,
        "HMRC has no period with this key.",
        "Use a period key from the obligations.",
    ),
    "INVALID_STRING_VALUE": Mapping(
        "INVALID_STRING_VALUE", 400, "A text field is not text.", _FIX_REQUEST
    ),
    "INVALID_NUMERIC_VALUE": Mapping(
        "INVALID_NUMERIC_VALUE", 400, "A number field is not a number.", _FIX_REQUEST
    ),
    "UNMAPPED_PLAY_ERROR": Mapping(
        "INVALID_FIELD_TYPE", 400, "A field has the wrong type.", _FIX_REQUEST
    ),
    "MANDATORY_FIELD_MISSING": Mapping(
        "MANDATORY_FIELD_MISSING", 400, "A required field is missing.", _FIX_REQUEST
    ),
    "INVALID_MONETARY_AMOUNT": Mapping(
        "INVALID_MONETARY_AMOUNT",
        400,
        "An amount is out of range or has too many decimals.",
        _FIX_REQUEST,
    ),
    "VAT_TOTAL_VALUE": Mapping(
        "VAT_TOTAL_VALUE",
        400,
        "Box 3 must equal box 1 plus box 2.",
        "Correct box 3 and send again.",
    ),
    "VAT_NET_VALUE": Mapping(
        "VAT_NET_VALUE",
        400,
        "Box 5 must be the difference between box 3 and box 4.",
        "Correct box 5 and send again.",
    ),
    "BUSINESS_ERROR": Mapping("HMRC_BUSINESS_RULE", 403, "HMRC refused the return.", _FIX_REQUEST),
    "NOT_FINALISED": Mapping(
        "RETURN_NOT_FINALISED",
        403,
        "A return is only accepted with the declaration that it is final.",
        "Have the user confirm the declaration, then submit.",
    ),
    "DUPLICATE_SUBMISSION": Mapping(
        "DUPLICATE_SUBMISSION",
        403,
        "HMRC already has a return for this period.",
        "View the return for this period; it may be the one just sent.",
    ),
    "TAX_PERIOD_NOT_ENDED": Mapping(
        "TAX_PERIOD_NOT_ENDED",
        403,
        "The VAT period has not ended yet.",
        "Submit after the period's end date.",
    ),
    "RETURN_NOT_FOUND": Mapping(
        "RETURN_NOT_FOUND", 404, "HMRC has no return for this period.", "Check the period key."
    ),
    # -- HMRC's side --
    "MESSAGE_THROTTLED_OUT": Mapping(
        "HMRC_THROTTLED", 429, "HMRC's rate limit was reached.", _LATER, retryable=True
    ),
    "INTERNAL_SERVER_ERROR": Mapping(
        "HMRC_INTERNAL_ERROR", 502, "HMRC had an internal error.", _LATER, retryable=True
    ),
    "NOT_IMPLEMENTED": Mapping("HMRC_NOT_IMPLEMENTED", 502, "HMRC does not offer this.", _CONTACT),
    "SERVICE_UNAVAILABLE": Mapping(
        "HMRC_UNAVAILABLE", 503, "HMRC is unavailable.", _LATER, retryable=True
    ),
    "SERVER_ERROR": Mapping(
        "HMRC_UNAVAILABLE", 503, "HMRC is unavailable.", _LATER, retryable=True
    ),
    "SCHEDULED_MAINTENANCE": Mapping(
        "HMRC_MAINTENANCE", 503, "HMRC is down for scheduled maintenance.", _LATER, retryable=True
    ),
    "GATEWAY_TIMEOUT": Mapping(
        "HMRC_TIMEOUT", 504, "HMRC did not answer in time.", _LATER, retryable=True
    ),
}

_BY_STATUS: dict[int, Mapping] = {
    400: MAPPINGS["INVALID_REQUEST"],
    401: MAPPINGS["INVALID_CREDENTIALS"],
    403: MAPPINGS["FORBIDDEN"],
    404: Mapping("HMRC_NOT_FOUND", 404, "HMRC found nothing at this address.", _FIX_REQUEST),
    409: Mapping("HMRC_CONFLICT", 409, "HMRC reported a conflict.", _FIX_REQUEST),
    429: MAPPINGS["MESSAGE_THROTTLED_OUT"],
    503: MAPPINGS["SERVICE_UNAVAILABLE"],
    504: MAPPINGS["GATEWAY_TIMEOUT"],
}


def hmrc_code(body: Any) -> str | None:
    """HMRC's code: `code`, or `message` in the `{statusCode, message}` shape some
    validators answer with."""
    if not isinstance(body, dict):
        return None
    if isinstance(body.get("code"), str):
        return str(body["code"])
    if "statusCode" in body and isinstance(body.get("message"), str):
        return str(body["message"])
    return None


def inner_errors(body: Any) -> list[dict[str, Any]]:
    if not isinstance(body, dict) or not isinstance(body.get("errors"), list):
        return []
    return [e for e in body["errors"] if isinstance(e, dict) and isinstance(e.get("code"), str)]


def lookup(code: str | None, status: int) -> Mapping:
    if code is not None:
        found = MAPPINGS.get((code, status)) or MAPPINGS.get(code)
        if found is not None:
            return found
    if 400 <= status < 500:
        return _BY_STATUS.get(status) or Mapping(
            f"HMRC_CLIENT_ERROR_{status}", status, "HMRC refused the request.", _FIX_REQUEST
        )
    return _BY_STATUS.get(status) or MAPPINGS["INTERNAL_SERVER_ERROR"]


def map_error(status: int, body: Any, *, empty_404: str = "HMRC_NOT_FOUND") -> MappedError:
    """Map one HMRC error answer. An envelope (`INVALID_REQUEST`, `BUSINESS_ERROR`) with a
    single inner code takes that code's meaning (so DUPLICATE_SUBMISSION is visible)."""
    code = hmrc_code(body)
    inner = inner_errors(body)
    primary = code
    if code in ("INVALID_REQUEST", "BUSINESS_ERROR") and len({e["code"] for e in inner}) == 1:
        primary = inner[0]["code"]
    if body is None and status == 404:
        primary = empty_404
    mapping = lookup(primary, status)
    # HMRC 4xx stays 4xx whatever a shared code's default status says.
    out_status = status if 400 <= status < 500 and mapping.status >= 500 else mapping.status
    if 400 <= status < 500 and not 400 <= out_status < 500:
        out_status = status
    errors = tuple(
        {
            "code": lookup(e["code"], status).code,
            "hmrc_code": e["code"],
            "message": e.get("message"),
            **({"path": e["path"]} if "path" in e else {}),
        }
        for e in inner
    )
    message = body.get("message") if isinstance(body, dict) else None
    return MappedError(
        code=mapping.code,
        status=out_status,
        message=mapping.message,
        action=mapping.action,
        retryable=mapping.retryable,
        hmrc_status=status,
        hmrc_code=primary if body is not None else None,
        hmrc_message=message if isinstance(message, str) else None,
        errors=errors,
    )


def catalogue_codes() -> set[tuple[str, int]]:
    """Every (HMRC code, status) the error catalogue and the platform document lists."""
    found: set[tuple[str, int]] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "status" in node and "body" in node and isinstance(node["status"], int):
                body = node["body"]
                code = hmrc_code(body)
                for part in (code or "").split("|"):
                    if part:
                        found.add((part, node["status"]))
                for err in inner_errors(body):
                    found.add((err["code"], node["status"]))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(contracts.load(contracts.ERROR_CATALOGUE))
    platform = contracts.load(contracts.OAUTH_AND_PLATFORM)["platform_errors"]
    for status, codes in platform.items():
        if status.isdigit():
            found.update((code, int(status)) for code in codes)
    return found
