"""HMRC's query rules checked here, so a bad request never costs an HMRC call; the codes are
the ones the gateway maps HMRC's answers to, so a client sees one code either way."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from services.common.errors import ProblemError

VRN = re.compile(r"^\d{9}$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# HMRC holds no financial data from before Making Tax Digital's start.
FINANCIAL_DATA_START = date(2016, 4, 6)
_FIX = "Correct the request and send it again."


def _bad(code: str, detail: str) -> ProblemError:
    return ProblemError(400, code, detail, action=_FIX)


def check_vrn(vrn: str) -> str:
    if not VRN.match(vrn):
        raise _bad("VRN_INVALID", "The VRN is not valid: nine digits.")
    return vrn


def strict_date(value: str) -> date | None:
    """yyyy-MM-dd naming a real day (2017-02-30 is not one)."""
    if not _ISO_DATE.match(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def plus_one_year(day: date) -> date:
    try:
        return day.replace(year=day.year + 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year + 1, day=28)


@dataclass(frozen=True)
class ObligationsQuery:
    start: date | None
    end: date | None
    status: str | None

    def as_params(self) -> dict[str, str]:
        params = {"status": self.status} if self.status else {}
        if self.start and self.end:
            params |= {"from": self.start.isoformat(), "to": self.end.isoformat()}
        return params


def obligations_query(from_: str | None, to: str | None, status: str | None) -> ObligationsQuery:
    """HMRC's order: presence and format of from/to/status, then the range (at most 366 days)."""
    if from_ is None and to is None:
        if status is None:
            raise _bad("INVALID_DATE_FROM", "Give from and to, or status=O for open ones.")
        if status == "F":
            raise _bad("MISSING_DATE_RANGE", "Fulfilled obligations need from and to.")
        if status != "O":
            raise _bad("INVALID_OBLIGATION_STATUS", "The status must be O or F.")
        return ObligationsQuery(None, None, "O")
    if to is None:
        raise _bad("INVALID_DATE_TO", "The to date is missing.")
    if from_ is None:
        raise _bad("INVALID_DATE_FROM", "The from date is missing.")
    start, end = strict_date(from_), strict_date(to)
    if start is None:
        raise _bad("INVALID_DATE_FROM", "The from date is not a yyyy-MM-dd date.")
    if end is None:
        raise _bad("INVALID_DATE_TO", "The to date is not a yyyy-MM-dd date.")
    if status is not None and status not in ("O", "F"):
        raise _bad("INVALID_OBLIGATION_STATUS", "The status must be O or F.")
    if not start < end or plus_one_year(start) < end:
        raise _bad(
            "INVALID_DATE_RANGE",
            "The date range is invalid: from must be before to, at most 366 days apart.",
        )
    return ObligationsQuery(start, end, status)


def financial_query(from_: str | None, to: str | None, today: date) -> dict[str, str]:
    """Liabilities and payments: from, then to, then the range (under a year)."""
    start = strict_date(from_) if from_ is not None else None
    if start is None or start < FINANCIAL_DATA_START:
        raise _bad("INVALID_DATE_FROM", "The from date is missing, malformed or before 2016-04-06.")
    end = strict_date(to) if to is not None else None
    if end is None or end > today:
        raise _bad("INVALID_DATE_TO", "The to date is missing, malformed or in the future.")
    if not start < end or plus_one_year(start).toordinal() - 1 < end.toordinal():
        raise _bad(
            "INVALID_DATE_RANGE",
            "The date range is invalid: from must be before to, less than a year apart.",
        )
    return {"from": start.isoformat(), "to": end.isoformat()}
