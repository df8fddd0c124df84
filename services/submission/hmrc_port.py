"""What the submission worker needs from HMRC (through the gateway), as outcomes it can act on.

A submit either reached a verdict (accepted with a receipt, rejected with HMRC's code),
could not have been processed (retry later: throttled, breaker open, no slot in time), or
has an unknown fate (uncertain: timeout, 5xx, connection reset) — the only case that needs
HMRC to be asked before anything is sent again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol


@dataclass(frozen=True)
class Accepted:
    receipt: dict[str, Any]


@dataclass(frozen=True)
class Rejected:
    code: str
    message: str
    status: int
    errors: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Uncertain:
    reason: str


@dataclass(frozen=True)
class RetryLater:
    after_s: float
    reason: str


SubmitOutcome = Accepted | Rejected | Uncertain | RetryLater


@dataclass(frozen=True)
class Found:
    vat_return: dict[str, Any]


@dataclass(frozen=True)
class NotFound:
    pass


@dataclass(frozen=True)
class Unavailable:
    reason: str
    after_s: float = 10.0


ViewOutcome = Found | NotFound | Unavailable


@dataclass(frozen=True)
class SubmitRequest:
    tenant_id: str
    vrn: str
    vat_return: dict[str, Any]
    due_date: date
    submission_id: str
    client_context: dict[str, Any]


class HmrcPort(Protocol):
    async def submit(self, request: SubmitRequest) -> SubmitOutcome: ...

    async def view(
        self, tenant_id: str, vrn: str, period_key: str, context: dict[str, Any] | None = None
    ) -> ViewOutcome: ...
