"""HMRC's error answers: status and body exactly as HMRC sends them.

Bodies come from the error catalogue in `contracts/hmrc/vat-api/derived/error-catalogue.json`
(transcribed from the running vat-api code). The API platform's own answers (credentials,
scope, throttling) are not in that catalogue; their codes come from
`platform/oauth-and-platform.json` and their messages are the ones HMRC's gateway sends.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from services.common import hmrc_contracts as contracts

Body = dict[str, Any]


@dataclass(frozen=True)
class HmrcError:
    """One HMRC error answer; `body` None means an empty body."""

    status: int
    body: Body | None
    headers: dict[str, str] = field(default_factory=dict)

    def with_headers(self, **headers: str) -> HmrcError:
        return HmrcError(self.status, self.body, {**self.headers, **headers})


class Rejected(Exception):
    """Raise to stop handling a request and answer with `error`."""

    def __init__(self, error: HmrcError) -> None:
        super().__init__(f"{error.status} {_code(error.body)}")
        self.error = error


CATALOGUE: dict[str, Any] = contracts.load(contracts.ERROR_CATALOGUE)
PLATFORM: dict[str, Any] = contracts.load(contracts.OAUTH_AND_PLATFORM)


def _one(entries: Iterable[dict[str, Any]], test: Callable[[dict[str, Any]], bool]) -> HmrcError:
    found = [e for e in entries if test(e)]
    if len(found) != 1:
        raise LookupError(f"the error catalogue has {len(found)} entries for this lookup")
    entry = found[0]
    return HmrcError(int(entry["status"]), copy.deepcopy(entry["body"]))


def _code(body: Body | None) -> str | None:
    return None if body is None else body.get("code")


def _platform(code: str) -> HmrcError:
    return _one(CATALOGUE["platform_and_auth"], lambda e: _code(e["body"]) == code)


# -- platform and routing (catalogue: platform_and_auth) ---------------------------------------
VRN_INVALID = _platform("VRN_INVALID")
CLIENT_OR_AGENT_NOT_AUTHORISED = _platform("CLIENT_OR_AGENT_NOT_AUTHORISED")
MALFORMED_JSON = _platform("INVALID_REQUEST")
INVALID_BODY_TYPE = _platform("INVALID_BODY_TYPE")
MATCHING_RESOURCE_NOT_FOUND = _platform("MATCHING_RESOURCE_NOT_FOUND")
ACCEPT_HEADER_INVALID = _platform("ACCEPT_HEADER_INVALID")
VERSION_NOT_FOUND = _platform("NOT_FOUND")
UNKNOWN_SCENARIO = _platform("RULE_INCORRECT_GOV_TEST_SCENARIO")
INTERNAL_SERVER_ERROR = _platform("INTERNAL_SERVER_ERROR")
SERVICE_UNAVAILABLE = _platform("SERVICE_UNAVAILABLE")
INSOLVENT_TRADER = _platform("RULE_INSOLVENT_TRADER")


def _gateway(status: int, code: str, message: str) -> HmrcError:
    listed = PLATFORM["platform_errors"][str(status)]
    if code not in listed:
        raise LookupError(f"{code} is not a documented {status} platform error")
    return HmrcError(status, {"code": code, "message": message})


# -- the API platform's gateway (codes: oauth-and-platform.json; messages as HMRC sends them) --
MISSING_CREDENTIALS = _gateway(
    401, "MISSING_CREDENTIALS", "Authentication information is not provided"
)
INVALID_CREDENTIALS = _gateway(
    401, "INVALID_CREDENTIALS", "Invalid Authentication information provided"
)
INCORRECT_ACCESS_TOKEN_TYPE = _gateway(
    401, "INCORRECT_ACCESS_TOKEN_TYPE", "The access token type is not valid for this API"
)
INVALID_SCOPE = _gateway(
    403,
    "INVALID_SCOPE",
    "Cannot access the required resource. Ensure this token has all the required scopes.",
)
MESSAGE_THROTTLED_OUT = _gateway(
    429,
    "MESSAGE_THROTTLED_OUT",
    "The request for the API is throttled as you have exceeded your quota.",
)
GATEWAY_TIMEOUT = _gateway(504, "GATEWAY_TIMEOUT", "The request has timed out")

# Play's error handler answers any other client error as INVALID_REQUEST with Play's message
# (hmrc/vat-api app/utils/ErrorHandler.scala); a body over the parser's limit is 413.
PAYLOAD_TOO_LARGE = HmrcError(
    413, {"code": "INVALID_REQUEST", "message": "Request Entity Too Large"}
)

# -- obligations (catalogue: obligations) --------------------------------------------------------
_OBLIGATIONS = CATALOGUE["obligations"]["errors"]


def obligations_parameter(message: str) -> HmrcError:
    """`INVALID_DATE_FROM`, `INVALID_DATE_TO`, `INVALID_STATUS`, `MISSING_DATE_RANGE`,
    `INVALID_DATE_RANGE`: the validator's own answers, `{statusCode, message}` bodies."""
    return _one(_OBLIGATIONS, lambda e: e["body"].get("message") == message)


OBLIGATIONS_NOT_FOUND = _one(_OBLIGATIONS, lambda e: _code(e["body"]) == "NOT_FOUND")

# -- liabilities and payments --------------------------------------------------------------------
_FINANCIAL = CATALOGUE["liabilities_and_payments"]["errors"]


def financial_parameter(message: str) -> HmrcError:
    """`DATE_FROM_INVALID`, `DATE_TO_INVALID`, `DATE_RANGE_INVALID`."""
    return _one(_FINANCIAL, lambda e: e["body"].get("message") == message)


FINANCIAL_NOT_FOUND = _one(_FINANCIAL, lambda e: _code(e["body"]) == "NOT_FOUND")

# -- submit return ---------------------------------------------------------------------------------
_SUBMIT = CATALOGUE["submit_return"]
_SINGLE = _SUBMIT["single_error_bodies"]


def _inner(code: str, contains: str = "") -> dict[str, Any]:
    def test(entry: dict[str, Any]) -> bool:
        inner = entry["body"]["errors"][0]
        return bool(inner["code"] == code and contains in inner["message"])

    error = _one(_SINGLE, test)
    assert error.body is not None
    return dict(error.body["errors"][0])


def field_error(template: dict[str, Any], field_name: str) -> dict[str, Any]:
    """One inner error with its `/<field>` path filled in."""
    inner = dict(template)
    if inner.get("path") == "/<field>":
        inner["path"] = f"/{field_name}"
    return inner


PERIOD_KEY_FORMAT = _inner("PERIOD_KEY_INVALID")
STRING_VALUE = _inner("INVALID_STRING_VALUE")
NUMERIC_VALUE = _inner("INVALID_NUMERIC_VALUE")
BOOLEAN_VALUE = _inner("UNMAPPED_PLAY_ERROR")
MANDATORY_FIELD = _inner("MANDATORY_FIELD_MISSING")
MONETARY_2DP = _inner("INVALID_MONETARY_AMOUNT", "-9,999,999,999,999.99")
MONETARY_NET = _inner("INVALID_MONETARY_AMOUNT", "between 0 and")
MONETARY_WHOLE = _inner("INVALID_MONETARY_AMOUNT", "The value must be")
VAT_TOTAL_VALUE = _inner("VAT_TOTAL_VALUE")
VAT_NET_VALUE = _inner("VAT_NET_VALUE")
NOT_FINALISED = _one(_SINGLE, lambda e: e["body"]["errors"][0]["code"] == "NOT_FINALISED")
_INVALID_REQUEST_ENVELOPE = {
    k: v for k, v in _SUBMIT["multiple_errors"]["shape"].items() if k != "errors"
}


def invalid_request(errors: list[dict[str, Any]]) -> HmrcError:
    """400 INVALID_REQUEST carrying every field error, de-duplicated in order."""
    unique: list[dict[str, Any]] = []
    for error in errors:
        if error not in unique:
            unique.append(error)
    return HmrcError(400, {**_INVALID_REQUEST_ENVELOPE, "errors": unique})


def _downstream(des: str) -> HmrcError:
    return _one(_SUBMIT["downstream_errors"], lambda e: e["des"] == des)


SUBMIT_INVALID_VRN = _downstream("400 INVALID_VRN")
SUBMIT_INVALID_PERIODKEY = _downstream("400 INVALID_PERIODKEY")
SUBMIT_INVALID_PAYLOAD = _downstream("400 INVALID_PAYLOAD")
TAX_PERIOD_NOT_ENDED = _downstream("403 TAX_PERIOD_NOT_ENDED")
DUPLICATE_SUBMISSION = _downstream("409 DUPLICATE_SUBMISSION")

# -- view return -----------------------------------------------------------------------------------
_VIEW = CATALOGUE["view_return"]["errors"]
VIEW_PERIOD_KEY_INVALID = _one(
    _VIEW, lambda e: e["status"] == 400 and _code(e["body"]) == "INVALID_REQUEST"
)
VIEW_DATE_RANGE_TOO_LARGE = _one(
    _VIEW,
    lambda e: (
        e["body"] is not None
        and any(i["code"] == "DATE_RANGE_TOO_LARGE" for i in e["body"].get("errors", []))
    ),
)
RETURN_NOT_FOUND = _one(_VIEW, lambda e: e["body"] is None and e["status"] == 404)

# Faults injected through the control API answer with the body HMRC sends for that status.
FAULT_BODIES: dict[int, HmrcError] = {
    500: INTERNAL_SERVER_ERROR,
    503: SERVICE_UNAVAILABLE,
    504: GATEWAY_TIMEOUT,
    429: MESSAGE_THROTTLED_OUT,
}


def fault(status: int) -> HmrcError:
    known = FAULT_BODIES.get(status)
    if known is not None:
        return known
    return HmrcError(
        status, {"code": "INTERNAL_SERVER_ERROR", "message": "An internal server error occurred"}
    )


# -- what the downstream system (DES) may answer, by endpoint and DES code -----------------------
# The control API can make the stub answer any of these, so every catalogue entry is reachable.
_DES = re.compile(r"^DES ([A-Z_]+(?: / [A-Z_]+)*)")


def _downstream_table() -> dict[str, dict[str, HmrcError]]:
    common = {
        "SERVER_ERROR": INTERNAL_SERVER_ERROR,
        "SERVICE_UNAVAILABLE": SERVICE_UNAVAILABLE,
        "INSOLVENT_TRADER": INSOLVENT_TRADER,
    }
    table: dict[str, dict[str, HmrcError]] = {
        name: dict(common)
        for name in ("obligations", "submit_return", "view_return", "liabilities", "payments")
    }

    def from_when(endpoints: tuple[str, ...], entries: list[dict[str, Any]]) -> None:
        for entry in entries:
            match = _DES.match(entry["when"])
            if match is None:
                continue
            codes = match[1].split(" / ")
            body = entry["body"]
            for index, des in enumerate(codes):
                split = dict(body) if body is not None else None
                if split is not None and len(codes) > 1:  # "A|B" bodies list one per DES code
                    split = {k: v.split("|")[index] for k, v in split.items()}
                for endpoint in endpoints:
                    table[endpoint][des] = HmrcError(int(entry["status"]), split)

    from_when(("obligations",), _OBLIGATIONS)
    from_when(("view_return",), _VIEW)
    from_when(("liabilities", "payments"), _FINANCIAL)
    for entry in _SUBMIT["downstream_errors"]:
        for des in entry["des"].split("|"):
            code = des.split()[-1]
            table["submit_return"][code] = HmrcError(int(entry["status"]), entry["body"])
    duplicate_payment = _one(_FINANCIAL, lambda e: _code(e["body"]) == "RULE_DUPLICATE_PAYMENT")
    table["payments"]["DUPLICATE_PAYMENT"] = duplicate_payment
    return table


DOWNSTREAM: dict[str, dict[str, HmrcError]] = _downstream_table()
