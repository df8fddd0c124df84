"""HMRC's request validation for the VAT API, in HMRC's order, with HMRC's answers.

Shared by the simulator (which answers as HMRC does) and the platform's own services
(which refuse a bad request before it reaches the queue, with the same codes).

The rules and their order are those of the error catalogue (`contracts/hmrc/vat-api/derived/
error-catalogue.json`): each level runs only when the previous one found nothing, and the
field checks of a return are all collected before answering.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from services.common import hmrc_errors as E
from services.common.hmrc_errors import Rejected

VRN = re.compile(r"^\d{9}$")
PERIOD_KEY = re.compile(r"^[#0-9A-Z]{4}$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# The earliest `from` the liabilities and payments validators accept.
FINANCIAL_DATA_START = date(2016, 4, 6)


def vrn(value: str) -> None:
    if not VRN.match(value):
        raise Rejected(E.VRN_INVALID)


def strict_date(value: str) -> date | None:
    """yyyy-MM-dd with a real day (Java's STRICT resolver): 2017-02-30 is not a date."""
    if not _ISO_DATE.match(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def plus_years(day: date, years: int) -> date:
    """java.time's plusYears: 29 February becomes 28 February in a common year."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


@dataclass(frozen=True)
class ObligationsQuery:
    start: date | None
    end: date | None
    status: str | None


def obligations_query(from_: str | None, to: str | None, status: str | None) -> ObligationsQuery:
    """Presence and format of from/to/status, then the date range."""
    error: str | None = None
    start = end = None
    if from_ is None and to is None:
        if status is None:
            error = "INVALID_DATE_FROM"
        elif status == "F":
            error = "MISSING_DATE_RANGE"
        elif status != "O":
            error = "INVALID_STATUS"
    elif to is None:
        error = "INVALID_DATE_TO"
    elif from_ is None:
        error = "INVALID_DATE_FROM"
    else:
        start, end = strict_date(from_), strict_date(to)
        if start is None:
            error = "INVALID_DATE_FROM"
        elif end is None:
            error = "INVALID_DATE_TO"
        elif status is not None and status not in ("O", "F"):
            error = "INVALID_STATUS"
    if error is not None:
        raise Rejected(E.obligations_parameter(error))
    if start is not None and end is not None and (not start < end or plus_years(start, 1) < end):
        raise Rejected(E.obligations_parameter("INVALID_DATE_RANGE"))
    return ObligationsQuery(start, end, status)


def financial_query(from_: str | None, to: str | None, today: date) -> tuple[date, date]:
    """Liabilities and payments: from, then to, then the range (at most a year less a day)."""
    start = strict_date(from_) if from_ is not None else None
    if start is None or start < FINANCIAL_DATA_START:
        raise Rejected(E.financial_parameter("DATE_FROM_INVALID"))
    end = strict_date(to) if to is not None else None
    if end is None or end > today:
        raise Rejected(E.financial_parameter("DATE_TO_INVALID"))
    if not start < end or plus_years(start, 1).toordinal() - 1 < end.toordinal():
        raise Rejected(E.financial_parameter("DATE_RANGE_INVALID"))
    return start, end


def view_period_key(value: str) -> None:
    if not PERIOD_KEY.match(value):
        raise Rejected(E.VIEW_PERIOD_KEY_INVALID)


# -- submit return --------------------------------------------------------------------------------
TWO_DP = ("vatDueSales", "vatDueAcquisitions", "totalVatDue", "vatReclaimedCurrPeriod")
NET = "netVatDue"
WHOLE = (
    "totalValueSalesExVAT",
    "totalValuePurchasesExVAT",
    "totalValueGoodsSuppliedExVAT",
    "totalAcquisitionsExVAT",
)
NUMERIC = (*TWO_DP, NET, *WHOLE)
FIELDS = ("periodKey", *NUMERIC, "finalised")
RETURN_FIELDS = ("periodKey", *NUMERIC)  # what view-return gives back (no `finalised`)

_MAX_2DP = Decimal("9999999999999.99")
_MAX_NET = Decimal("99999999999.99")
_MAX_WHOLE = Decimal("9999999999999")


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        return None
    return Decimal(value)


def _scale_ok(amount: Decimal) -> bool:
    exponent = amount.as_tuple().exponent
    return isinstance(exponent, int) and exponent >= -2


def return_body(body: Any) -> dict[str, Any]:
    """Validate a submitted return (levels 3-5 of the catalogue); returns the fields."""
    fields: dict[str, Any] = body if isinstance(body, dict) else {}
    errors: list[dict[str, Any]] = []

    # Presence of every field.
    errors += [E.field_error(E.MANDATORY_FIELD, f) for f in FIELDS if f not in fields]
    numbers = {f: _number(fields[f]) for f in NUMERIC if f in fields}

    # Decimal places (amounts of the right type only).
    for name in TWO_DP:
        amount = numbers.get(name)
        if amount is not None and not _scale_ok(amount):
            errors.append(E.field_error(E.MONETARY_2DP, name))
    net = numbers.get(NET)
    if net is not None and (not _scale_ok(net) or net < 0):
        errors.append(E.field_error(E.MONETARY_NET, NET))
    for name in WHOLE:
        amount = numbers.get(name)
        if amount is not None and amount != amount.to_integral_value():
            errors.append(E.field_error(E.MONETARY_WHOLE, name))

    # JSON types.
    if "periodKey" in fields and not isinstance(fields["periodKey"], str):
        errors.append(E.field_error(E.STRING_VALUE, "periodKey"))
    for name in NUMERIC:
        if name in fields and numbers[name] is None:
            errors.append(E.field_error(E.NUMERIC_VALUE, name))
    if "finalised" in fields and not isinstance(fields["finalised"], bool):
        errors.append(E.field_error(E.BOOLEAN_VALUE, "finalised"))

    # Period key format.
    period_key = fields.get("periodKey")
    if isinstance(period_key, str) and not PERIOD_KEY.match(period_key):
        errors.append(E.field_error(E.PERIOD_KEY_FORMAT, "periodKey"))

    # Ranges.
    for name in TWO_DP:
        amount = numbers.get(name)
        if amount is not None and not -_MAX_2DP <= amount <= _MAX_2DP:
            errors.append(E.field_error(E.MONETARY_2DP, name))
    if net is not None and not Decimal(0) <= net <= _MAX_NET:
        errors.append(E.field_error(E.MONETARY_NET, NET))
    for name in WHOLE:
        amount = numbers.get(name)
        if amount is not None and not -_MAX_WHOLE <= amount <= _MAX_WHOLE:
            errors.append(E.field_error(E.MONETARY_WHOLE, name))

    if errors:
        raise Rejected(E.invalid_request(errors))

    # Consistency of the boxes (exact decimal arithmetic).
    total, reclaimed = numbers["totalVatDue"], numbers["vatReclaimedCurrPeriod"]
    assert total is not None
    assert reclaimed is not None
    assert net is not None
    consistency: list[dict[str, Any]] = []
    if net != max(total, reclaimed) - min(total, reclaimed):
        consistency.append(dict(E.VAT_NET_VALUE))
    sales, acquisitions = numbers["vatDueSales"], numbers["vatDueAcquisitions"]
    assert sales is not None
    assert acquisitions is not None
    if total != sales + acquisitions:
        consistency.append(dict(E.VAT_TOTAL_VALUE))
    if consistency:
        raise Rejected(E.invalid_request(consistency))

    if fields["finalised"] is not True:
        raise Rejected(E.NOT_FINALISED)
    return fields
