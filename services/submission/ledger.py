"""Recording submissions and moving them through the state machine.

Every move is checked against the state machine, timestamped in `submission_transitions`,
and announced through the outbox in the same transaction: `submission.<state>` for the
platform (workers, obligations) and `audit.submission.<state>` for the audit log.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.common import jsonutil, telemetry
from services.common.messaging import outbox
from services.submission import metrics
from services.submission.models import Submission, Transition
from services.submission.states import State, check


def request_hash(vrn: str, vat_return: dict[str, Any]) -> str:
    """Fingerprint of what was asked, to tell a retry from a different request."""
    canonical = jsonutil.dumps({"vrn": vrn, "return": dict(sorted(vat_return.items()))})
    return hashlib.sha256(canonical.encode()).hexdigest()


async def find_by_idempotency_key(
    session: AsyncSession, tenant_id: str, key: str
) -> Submission | None:
    return (
        await session.execute(
            sa.select(Submission).where(
                Submission.tenant_id == tenant_id, Submission.idempotency_key == key
            )
        )
    ).scalar_one_or_none()


async def find_live_for_period(
    session: AsyncSession, vrn: str, period_key: str
) -> Submission | None:
    return (
        await session.execute(
            sa.select(Submission).where(
                Submission.vrn == vrn,
                Submission.period_key == period_key,
                Submission.state != State.REJECTED,
            )
        )
    ).scalar_one_or_none()


async def get(session: AsyncSession, tenant_id: str, vrn: str, sid: uuid.UUID) -> Submission | None:
    return (
        await session.execute(
            sa.select(Submission).where(
                Submission.id == sid, Submission.tenant_id == tenant_id, Submission.vrn == vrn
            )
        )
    ).scalar_one_or_none()


async def history(session: AsyncSession, sid: uuid.UUID) -> list[Transition]:
    rows = await session.execute(
        sa.select(Transition).where(Transition.submission_id == sid).order_by(Transition.id)
    )
    return list(rows.scalars())


async def create(
    session: AsyncSession,
    *,
    tenant_id: str,
    vrn: str,
    due_date: date,
    idempotency_key: str,
    vat_return: dict[str, Any],
    client_context: dict[str, Any],
) -> Submission:
    """Record an accepted request and queue it, in the caller's transaction."""
    now = datetime.now(UTC)
    submission = Submission(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        vrn=vrn,
        period_key=vat_return["periodKey"],
        due_date=due_date,
        idempotency_key=idempotency_key,
        request_hash=request_hash(vrn, vat_return),
        vat_return=vat_return,
        client_context=client_context,
        state=State.RECEIVED,
        attempts=0,
        next_attempt_at=now,
        trace_context=telemetry.inject(),
        created_at=now,
        updated_at=now,
    )
    session.add(submission)
    await _record(session, submission, None, State.RECEIVED, None, {})
    metrics.record_move(submission, None, State.RECEIVED)
    await move(session, submission, State.QUEUED)
    return submission


async def move(
    session: AsyncSession,
    submission: Submission,
    target: State,
    *,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
    **fields: Any,
) -> None:
    """Move `submission` to `target` (checked), updating `fields`, in the caller's transaction."""
    current = State(submission.state)
    check(current, target)
    submission.state = target
    submission.updated_at = datetime.now(UTC)
    for name, value in fields.items():
        setattr(submission, name, value)
    await _record(session, submission, current, target, reason, details or {})
    metrics.record_move(submission, current, target)


async def _record(
    session: AsyncSession,
    submission: Submission,
    current: State | None,
    target: State,
    reason: str | None,
    details: dict[str, Any],
) -> None:
    at = datetime.now(UTC)
    session.add(
        Transition(
            submission_id=submission.id,
            from_state=current,
            to_state=target,
            at=at,
            reason=reason,
            details=details,
        )
    )
    await session.flush()
    fact = {
        "submission_id": str(submission.id),
        "tenant_id": submission.tenant_id,
        "vrn": submission.vrn,
        "period_key": submission.period_key,
        "due_date": submission.due_date.isoformat(),
        "from_state": current,
        "to_state": target,
        "reason": reason,
        "code": submission.error_code,
        "occurred_at": at.isoformat(),
    }
    await outbox.add(session, f"submission.{target}", fact)
    await outbox.add(session, f"audit.submission.{target}", fact)
