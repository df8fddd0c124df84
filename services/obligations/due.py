"""What is due soon across a tenant's VRNs: open obligations, earliest due first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any


@dataclass(frozen=True)
class DueItem:
    vrn: str
    obligation: dict[str, Any]
    due: date

    def as_json(self, today: date) -> dict[str, Any]:
        days = (self.due - today).days
        return {
            "vrn": self.vrn,
            **self.obligation,
            "daysRemaining": days,
            "overdue": days < 0,
        }


def due_within(
    vrn: str, obligations: list[dict[str, Any]], today: date, within_days: int
) -> list[DueItem]:
    """Open obligations due on or before today + `within_days` (overdue ones included)."""
    out = []
    for ob in obligations:
        if ob.get("status") != "O":
            continue
        try:
            due = date.fromisoformat(str(ob.get("due")))
        except ValueError:
            continue
        if (due - today).days <= within_days:
            out.append(DueItem(vrn, ob, due))
    return out


def ordered(items: list[DueItem]) -> list[DueItem]:
    return sorted(items, key=lambda i: (i.due, i.vrn, str(i.obligation.get("periodKey"))))
