"""The worker: sends each claimed return to HMRC exactly once.

Nothing is ever re-sent on a guess. After an uncertain outcome (timeout, 5xx, reset) the
return goes to `reconciling`, and HMRC is asked (view return) whether it landed: the same
figures mean accepted; different figures mean rejected; nothing there means it is safe to
queue it again. `DUPLICATE_SUBMISSION` is treated the same way — as a question, not a
failure. Each step commits before the next HMRC call, so a worker killed at any instant
leaves a state from which the sweeper can carry on safely.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from services.common.database import Database
from services.common.logging import get_logger
from services.common.messaging.tracing import continued_work
from services.submission import ledger, queue
from services.submission.hmrc_port import (
    Accepted,
    Found,
    HmrcPort,
    NotFound,
    Rejected,
    RetryLater,
    SubmitRequest,
    Unavailable,
    Uncertain,
)
from services.submission.models import Submission
from services.submission.states import State

log = get_logger(__name__)

DUPLICATE_SUBMISSION = "DUPLICATE_SUBMISSION"
CIRCUIT_OPEN = "HMRC_CIRCUIT_OPEN"
DIFFERENT_FIGURES = "DUPLICATE_SUBMISSION_DIFFERENT_FIGURES"
# The nine boxes HMRC gives back on view; `finalised` is only sent, never returned.
_BOXES = (
    "periodKey",
    "vatDueSales",
    "vatDueAcquisitions",
    "totalVatDue",
    "vatReclaimedCurrPeriod",
    "netVatDue",
    "totalValueSalesExVAT",
    "totalValuePurchasesExVAT",
    "totalValueGoodsSuppliedExVAT",
    "totalAcquisitionsExVAT",
)


def same_figures(sent: dict[str, Any], stored: dict[str, Any]) -> bool:
    def norm(value: Any) -> Any:
        try:
            return Decimal(str(value))
        except ArithmeticError:
            return value

    return all(norm(sent.get(k)) == norm(stored.get(k)) for k in _BOXES)


class SendGate:
    """Closed while the gateway's submission breaker is open (HMRC is failing). One send
    that finds it open closes the gate for the breaker's Retry-After, and the replica's
    workers claim no more sends until then: otherwise they would take every queued return
    in turn during an outage only to put it back, two transitions each per breaker period
    (thousands a minute on a deadline day), and scatter their retry times."""

    def __init__(self) -> None:
        self._until = 0.0

    def close_for(self, seconds: float) -> None:
        self._until = max(self._until, time.monotonic() + seconds)

    def remaining(self) -> float:
        """Seconds until sends may be claimed again (0 when open)."""
        return max(0.0, self._until - time.monotonic())


class Worker:
    def __init__(
        self,
        db: Database,
        hmrc: HmrcPort,
        name: str,
        *,
        renew_every: float = 30.0,
        gate: SendGate | None = None,
    ) -> None:
        self.db = db
        self.hmrc = hmrc
        self.name = name
        self.renew_every = renew_every
        self.gate = gate or SendGate()

    @asynccontextmanager
    async def _holding(self, submission: Submission) -> AsyncIterator[None]:
        """Renew the claim while HMRC is being called, so the sweeper leaves it alone."""

        async def renew() -> None:
            while True:
                await asyncio.sleep(self.renew_every)
                async with self.db.transaction() as session:
                    await session.execute(
                        sa.update(Submission)
                        .where(Submission.id == submission.id, Submission.claimed_by == self.name)
                        .values(claimed_at=datetime.now(UTC))
                    )

        task = asyncio.create_task(renew())
        try:
            yield
        finally:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task

    async def run_once(self) -> bool:
        """Claim and carry one return as far as it can go now; False when nothing was ready.

        A due reconciliation goes before the next send: the few returns whose fate is
        unknown are the oldest waiting (their send failed first) and cost one view call,
        whereas behind a backlog of sends (after an HMRC outage) they would wait for all of
        it."""
        reconciling = await self._claim_reconciliation()
        if reconciling is not None:
            await self.reconcile(reconciling)
            return True
        if self.gate.remaining() > 0:
            return False
        async with self.db.transaction() as session:
            submission = await queue.claim_next(session, self.name)
        if submission is None:
            return False
        await self.send(submission)
        return True

    async def send(self, submission: Submission) -> None:
        with continued_work(
            submission.trace_context, "submission.queued", "submission-worker", str(submission.id)
        ):
            await self._send(submission)

    async def _send(self, submission: Submission) -> None:
        async with self._holding(submission):
            outcome = await self.hmrc.submit(
                SubmitRequest(
                    tenant_id=submission.tenant_id,
                    vrn=submission.vrn,
                    vat_return=submission.vat_return,
                    due_date=submission.due_date,
                    submission_id=str(submission.id),
                    client_context=submission.client_context,
                )
            )
        async with self.db.transaction() as session:
            current = await self._reload(session, submission)
            if isinstance(outcome, Accepted):
                await ledger.move(session, current, State.ACCEPTED, receipt=outcome.receipt)
                return
            if isinstance(outcome, RetryLater):
                if outcome.reason == CIRCUIT_OPEN:
                    self.gate.close_for(outcome.after_s)
                await queue.requeue(
                    session, current, timedelta(seconds=outcome.after_s), outcome.reason
                )
                return
            if isinstance(outcome, Rejected) and outcome.code != DUPLICATE_SUBMISSION:
                await ledger.move(
                    session,
                    current,
                    State.REJECTED,
                    reason=outcome.message,
                    details={"status": outcome.status, "errors": outcome.errors},
                    error_code=outcome.code,
                    error_message=outcome.message,
                )
                return
            reason = outcome.reason if isinstance(outcome, Uncertain) else DUPLICATE_SUBMISSION
            if isinstance(outcome, Uncertain):
                await ledger.move(session, current, State.UNCERTAIN, reason=reason)
            await ledger.move(
                session,
                current,
                State.RECONCILING,
                reason=reason,
                claimed_at=datetime.now(UTC),
                next_attempt_at=datetime.now(UTC),
            )
        await self._reconcile(current)

    async def reconcile(self, submission: Submission) -> None:
        with continued_work(
            submission.trace_context, "submission.queued", "submission-worker", str(submission.id)
        ):
            await self._reconcile(submission)

    async def _reconcile(self, submission: Submission) -> None:
        async with self._holding(submission):
            view = await self.hmrc.view(
                submission.tenant_id,
                submission.vrn,
                submission.period_key,
                submission.client_context,
            )
        async with self.db.transaction() as session:
            current = await self._reload(session, submission)
            if isinstance(view, Found):
                if same_figures(current.vat_return, view.vat_return):
                    await ledger.move(
                        session,
                        current,
                        State.ACCEPTED,
                        reason="confirmed at HMRC by view return",
                        receipt={"reconciled": True, "confirmedAt": datetime.now(UTC).isoformat()},
                    )
                else:
                    message = "HMRC holds a different return for this period."
                    await ledger.move(
                        session,
                        current,
                        State.REJECTED,
                        reason=message,
                        error_code=DIFFERENT_FIGURES,
                        error_message=message,
                    )
            elif isinstance(view, NotFound):
                # HMRC never stored it: sending it again cannot duplicate it.
                await queue.requeue(session, current, timedelta(0), "not found at HMRC")
            else:
                assert isinstance(view, Unavailable)
                await ledger.move(
                    session,
                    current,
                    State.RECONCILING,
                    reason=view.reason,
                    claimed_by=None,
                    claimed_at=None,
                    next_attempt_at=datetime.now(UTC) + timedelta(seconds=view.after_s),
                )

    async def _claim_reconciliation(self) -> Submission | None:
        async with self.db.transaction() as session:
            submission = (
                await session.execute(
                    sa.select(Submission)
                    .where(
                        Submission.state == State.RECONCILING,
                        Submission.claimed_at.is_(None),
                        Submission.next_attempt_at <= datetime.now(UTC),
                    )
                    .order_by(Submission.due_date)
                    .limit(1)
                    .with_for_update(skip_locked=True)
                )
            ).scalar_one_or_none()
            if submission is not None:
                submission.claimed_by = self.name
                submission.claimed_at = datetime.now(UTC)
            return submission

    @staticmethod
    async def _reload(session: Any, submission: Submission) -> Submission:
        current = await session.get(Submission, submission.id, with_for_update=True)
        assert current is not None
        return current  # type: ignore[no-any-return]
