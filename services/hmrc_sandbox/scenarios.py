"""Gov-Test-Scenario: which values each endpoint accepts, and the canned data behind them.

The accepted values are read from `contracts/hmrc/vat-api/derived/sandbox-scenarios.json`;
`##` in a listed name stands for a two-digit period number (01-12 monthly, 01-04 quarterly).
HMRC does not publish the stub's liabilities and payments; the sets below follow the
published examples' shapes and the documented date windows, with each item's tax period
ending inside the window the scenario names.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from services.common import hmrc_contracts as contracts
from services.common import hmrc_errors as E
from services.common.hmrc_errors import Rejected

HEADER = "gov-test-scenario"
DEFAULT = "DEFAULT"

_SECTIONS = {
    "obligations": "obligations",
    "submit_return": "submit_return",
    "view_return": "view_return",
    "liabilities": "liabilities",
    "payments": "payments",
}


def _expand(name: str) -> list[str]:
    if "##" not in name:
        return [name]
    last = 12 if name.startswith("MONTHLY") else 4
    return [name.replace("##", f"{n:02d}") for n in range(1, last + 1)]


def _accepted() -> dict[str, frozenset[str]]:
    data = contracts.load(contracts.SANDBOX_SCENARIOS)
    out: dict[str, frozenset[str]] = {}
    for endpoint, section in _SECTIONS.items():
        names = {DEFAULT}
        for key in data[section]:
            if key.startswith("_") or key.startswith("DEFAULT"):
                continue
            names.update(_expand(key))
        out[endpoint] = frozenset(names)
    return out


ACCEPTED: dict[str, frozenset[str]] = _accepted()


def of(endpoint: str, header: str | None) -> str:
    """The scenario asked for (DEFAULT when none); an unknown one is HMRC's 400."""
    if header is None or header == "":
        return DEFAULT
    if header not in ACCEPTED[endpoint]:
        raise Rejected(E.UNKNOWN_SCENARIO)
    return header


def _liability(
    start: str, end: str, kind: str, original: str, outstanding: str | None, due: str
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "taxPeriod": {"from": start, "to": end},
        "type": kind,
        "originalAmount": Decimal(original),
    }
    if outstanding is not None:
        item["outstandingAmount"] = Decimal(outstanding)
    item["due"] = due
    return item


_RETURN_DEBIT = "VAT Return Debit Charge"
LIABILITIES: dict[str, list[dict[str, Any]]] = {
    "SINGLE_LIABILITY": [
        _liability("2017-01-01", "2017-02-01", _RETURN_DEBIT, "463872", "463872", "2017-03-08"),
    ],
    "MULTIPLE_LIABILITIES": [
        _liability("2017-04-01", "2017-06-30", _RETURN_DEBIT, "15.00", "15.00", "2017-08-07"),
        _liability("2017-07-01", "2017-09-30", _RETURN_DEBIT, "1000.00", None, "2017-11-07"),
        _liability(
            "2017-08-01", "2017-12-20", "VAT OA Debit Charge", "8493.38", "7493.38", "2018-01-07"
        ),
    ],
    "SINGLE_LIABILITY_2018_19": [
        _liability("2017-11-01", "2018-02-01", _RETURN_DEBIT, "6000.30", "100.51", "2018-03-07"),
    ],
    "MULTIPLE_LIABILITIES_2018_19": [
        _liability("2018-04-06", "2018-07-06", _RETURN_DEBIT, "6000.3", "100.51", "2018-07-06"),
        _liability("2018-07-01", "2018-09-30", _RETURN_DEBIT, "412.15", "412.15", "2018-11-07"),
        _liability("2018-10-01", "2018-12-20", _RETURN_DEBIT, "2150.00", None, "2019-02-07"),
    ],
}

# Each payment with the end of the tax period of the liability it settled (for filtering).
PAYMENTS: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "SINGLE_PAYMENT": [("2017-02-01", {"amount": Decimal("100.05"), "received": "2017-02-11"})],
    "MULTIPLE_PAYMENTS": [
        ("2017-03-31", {"amount": Decimal("5.00"), "received": "2017-04-05"}),
        ("2017-06-30", {"amount": Decimal("150.00"), "received": "2017-07-29"}),
        ("2017-12-20", {"amount": Decimal("1000.00")}),
    ],
    "SINGLE_PAYMENT_2018_19": [
        ("2018-02-01", {"amount": Decimal("100.05"), "received": "2018-04-06"}),
    ],
    "MULTIPLE_PAYMENTS_2018_19": [
        ("2018-03-31", {"amount": Decimal("5.00"), "received": "2018-04-05"}),
        ("2018-06-30", {"amount": Decimal("150.00"), "received": "2018-07-29"}),
        ("2018-12-20", {"amount": Decimal("1000.00")}),
    ],
}


def liabilities(name: str, start: date, end: date) -> list[dict[str, Any]]:
    """The scenario's liabilities whose tax period ends inside [start, end]."""
    return [
        item
        for item in LIABILITIES.get(name, [])
        if start <= date.fromisoformat(item["taxPeriod"]["to"]) <= end
    ]


def payments(name: str, start: date, end: date) -> list[dict[str, Any]]:
    return [
        item
        for period_end, item in PAYMENTS.get(name, [])
        if start <= date.fromisoformat(period_end) <= end
    ]
