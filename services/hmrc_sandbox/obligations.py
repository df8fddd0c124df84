"""Obligations: each VRN's live calendar, and the canned sets behind Gov-Test-Scenario.

Conventions from HMRC's published examples (contracts/hmrc/vat-api/raml-2023/examples/
Obligations*.json and the VAT service guide):
- period keys: the year after the period's start year, `A`, then the quarter (1-4) or a
  month letter from `D` (January) — 2017 Q1 is `18A1`, January 2017 is `18AD`;
- due: the seventh day of the second month after the period ends (one month and seven days);
- a fulfilled obligation carries `received`; the canned ones were received the day before due.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from services.hmrc_sandbox.records import Stagger, StoredReturn, TestUser


@dataclass(frozen=True)
class Obligation:
    start: date
    end: date
    due: date
    period_key: str
    received: date | None = None

    @property
    def status(self) -> str:
        return "F" if self.received is not None else "O"

    def as_hmrc(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "due": self.due.isoformat(),
            "status": self.status,
            "periodKey": self.period_key,
        }
        if self.received is not None:
            body["received"] = self.received.isoformat()
        return body


def add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    last = (date(year + (month == 12), month % 12 + 1, 1) - timedelta(days=1)).day
    return date(year, month, min(day.day, last))


def due_date(end: date) -> date:
    return add_months(end + timedelta(days=1), 1) + timedelta(days=6)


def period_key(start: date, stagger: Stagger) -> str:
    year = f"{(start.year + 1) % 100:02d}"
    if stagger == "monthly":
        return f"{year}A{chr(ord('C') + start.month)}"
    return f"{year}A{(start.month - 1) // 3 + 1}"


def period_start(day: date, stagger: Stagger) -> date:
    if stagger == "monthly":
        return day.replace(day=1)
    return date(day.year, (day.month - 1) // 3 * 3 + 1, 1)


def periods(first: date, last: date, stagger: Stagger) -> list[tuple[date, date]]:
    """Consecutive periods from the one containing `first` to the one containing `last`."""
    step = 1 if stagger == "monthly" else 3
    start = period_start(first, stagger)
    out: list[tuple[date, date]] = []
    while start <= last:
        following = add_months(start, step)
        out.append((start, following - timedelta(days=1)))
        start = following
    return out


def live(
    user: TestUser,
    returns: dict[str, StoredReturn],
    now: datetime,
    lag: timedelta,
) -> list[Obligation]:
    """A VRN's obligations up to the current period (a new one opens on its first day); one is
    fulfilled once its return was stored and the configured lag has passed."""
    out = []
    for start, end in periods(user.calendar_start, now.date(), user.stagger):
        key = period_key(start, user.stagger)
        stored = returns.get(key)
        received = None
        if stored is not None and stored.received_at + lag <= now:
            received = stored.received_at.date()
        out.append(Obligation(start, end, due_date(end), key, received))
    return out


def select(
    obligations: list[Obligation], start: date | None, end: date | None, status: str | None
) -> list[Obligation]:
    """Those overlapping [start, end] (when given) with the status asked for."""
    return [
        o
        for o in obligations
        if (start is None or o.end >= start)
        and (end is None or o.start <= end)
        and (status is None or o.status == status)
    ]


# -- Gov-Test-Scenario sets ------------------------------------------------------------------------
def _canned(first: date, count: int, fulfilled: int, stagger: Stagger) -> list[Obligation]:
    step = 1 if stagger == "monthly" else 3
    out = []
    for index in range(count):
        start = add_months(first, index * step)
        end = add_months(start, step) - timedelta(days=1)
        due = due_date(end)
        received = due - timedelta(days=1) if index < fulfilled else None
        out.append(Obligation(start, end, due, period_key(start, stagger), received))
    return out


_MET = {"NONE": 0, "ONE": 1, "TWO": 2, "THREE": 3, "FOUR": 4}
_2017 = date(2017, 1, 1)
_2018 = date(2018, 1, 1)
_OPEN = re.compile(r"^(MONTHLY|QUARTERLY)_OBS_(\d{2})_OPEN$")


def scenario(name: str) -> list[Obligation] | None:
    """The canned obligations for a scenario, or None when it is not an obligations set.

    `<STAGGER>_<N>_MET`: N fulfilled then one open, from January 2017 (ONE_MET is exactly
    HMRC's published example). `<STAGGER>_OBS_##_OPEN`: 2018 up to period ## (open), earlier
    periods fulfilled. `..._FULFILLED`: all of 2018 fulfilled. `MULTIPLE_OPEN_*`: 2018, the
    first period fulfilled and the next two open. `OBS_SPANS_MULTIPLE_YEARS`: one open
    quarter from November 2018 to January 2019.
    """
    stagger: Stagger
    for prefix, stagger in (("QUARTERLY_", "quarterly"), ("MONTHLY_", "monthly")):
        if name.startswith(prefix) and name.endswith("_MET"):
            met = _MET.get(name[len(prefix) : -len("_MET")])
            if met is not None:
                return _canned(_2017, met + 1, met, stagger)
    match = _OPEN.match(name)
    if match:
        stagger = "monthly" if match[1] == "MONTHLY" else "quarterly"
        number = int(match[2])
        return _canned(_2018, number, number - 1, stagger)
    if name == "MONTHLY_OBS_12_FULFILLED":
        return _canned(_2018, 12, 12, "monthly")
    if name == "QUARTERLY_OBS_04_FULFILLED":
        return _canned(_2018, 4, 4, "quarterly")
    if name == "MULTIPLE_OPEN_MONTHLY":
        return _canned(_2018, 3, 1, "monthly")
    if name == "MULTIPLE_OPEN_QUARTERLY":
        return _canned(_2018, 3, 1, "quarterly")
    if name == "OBS_SPANS_MULTIPLE_YEARS":
        start, end = date(2018, 11, 1), date(2019, 1, 31)
        return [Obligation(start, end, due_date(end), "18A4")]
    return None
