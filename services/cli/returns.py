"""A VAT return from a JSON file or a bridging CSV, checked with the platform's own rules
(`services.common.hmrc_validation`, what the submission service applies) before it is sent.

The CSV has one `box,value` row per box: the box is its number (1-9, or `box1`…`box9`) or
HMRC's field name; `periodKey` and `finalised` may be rows too, or come from options.
Amounts are read as exact decimals, never floats.
"""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from services.common import hmrc_validation
from services.common.hmrc_errors import Rejected

BOXES = {
    "1": "vatDueSales",
    "2": "vatDueAcquisitions",
    "3": "totalVatDue",
    "4": "vatReclaimedCurrPeriod",
    "5": "netVatDue",
    "6": "totalValueSalesExVAT",
    "7": "totalValuePurchasesExVAT",
    "8": "totalValueGoodsSuppliedExVAT",
    "9": "totalAcquisitionsExVAT",
}
_TRUE = {"true", "yes", "y", "1"}
_FALSE = {"false", "no", "n", "0"}


class ReturnError(Exception):
    """The file cannot be read as a return, or the return breaks HMRC's rules."""

    def __init__(self, message: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or []


def _field(name: str) -> str:
    key = name.strip()
    lowered = key.lower().removeprefix("box").strip()
    if lowered in BOXES:
        return BOXES[lowered]
    for field in hmrc_validation.FIELDS:
        if field.lower() == key.lower():
            return field
    raise ReturnError(f"unknown box {name!r}: use 1-9 or HMRC's field names")


def _amount(field: str, text: str) -> Decimal:
    try:
        return Decimal(text.strip().replace(",", "").removeprefix("£"))
    except InvalidOperation:
        raise ReturnError(f"{field}: {text!r} is not an amount") from None


def from_csv(text: str) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for row in csv.reader(io.StringIO(text)):
        if not row or not row[0].strip() or row[0].strip().startswith("#"):
            continue
        if row[0].strip().lower() in ("box", "field"):
            continue  # a heading row
        if len(row) < 2:
            raise ReturnError(f"row {row!r} needs a box and a value")
        field, value = _field(row[0]), row[1].strip()
        if field in body:
            raise ReturnError(f"{field} appears twice")
        if field == "periodKey":
            body[field] = value
        elif field == "finalised":
            if value.lower() not in _TRUE | _FALSE:
                raise ReturnError(f"finalised: {value!r} is not yes or no")
            body[field] = value.lower() in _TRUE
        else:
            body[field] = _amount(field, value)
    return body


def from_json(text: str) -> dict[str, Any]:
    try:
        body = json.loads(text, parse_float=Decimal)
    except ValueError as exc:
        raise ReturnError(f"not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ReturnError("the JSON must be an object with HMRC's field names")
    return body


def load(path: Path, *, period_key: str | None, finalised: bool | None) -> dict[str, Any]:
    """The return in `path` (.csv or .json), options filling or overriding its period and
    declaration, validated as the platform will validate it."""
    text = path.read_text()
    body = from_csv(text) if path.suffix.lower() == ".csv" else from_json(text)
    if period_key is not None:
        body["periodKey"] = period_key
    if finalised is not None:
        body["finalised"] = finalised
    return validate(body)


def validate(body: dict[str, Any]) -> dict[str, Any]:
    try:
        fields = hmrc_validation.return_body(body)
    except Rejected as rejected:
        error = rejected.error.body or {}
        errors = list(error.get("errors", []))
        code = str(error.get("code", "INVALID_REQUEST"))
        if code == "BUSINESS_ERROR" and len(errors) == 1:
            code, errors = str(errors[0].get("code")), []
        message = f"{code}: {error.get('message', 'the return is not valid')}"
        raise ReturnError(message, errors) from None
    return {name: fields[name] for name in hmrc_validation.FIELDS}


def to_json(body: dict[str, Any]) -> str:
    """HMRC's JSON: every amount a JSON number written digit for digit."""
    marked = {k: f"@@{v}@@" if isinstance(v, Decimal) else v for k, v in body.items()}
    text = json.dumps(marked)
    for value in body.values():
        if isinstance(value, Decimal):
            text = text.replace(f'"@@{value}@@"', str(value), 1)
    return text
