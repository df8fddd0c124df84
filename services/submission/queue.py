"""The durable queue: queued submissions in PostgreSQL, served earliest due date first.

Workers claim with `FOR UPDATE SKIP LOCKED`, so any number of worker processes share the
queue without double-claiming. Within one due date, the tenant with the fewest returns in
flight goes first, so one tenant's bulk upload cannot starve another's single return.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.submission import ledger
from services.submission.models import Submission
from services.submission.states import State

# How many of the earliest-due candidates are weighed for fairness on each claim.
_CANDIDATES = 50


async def claim_next(session: AsyncSession, worker: str) -> Submission | None:
    """Claim the next return to send and mark it `submitting` (caller commits)."""
    now = datetime.now(UTC)
    candidates = (
        sa.select(Submission.id, Submission.tenant_id, Submission.due_date, Submission.created_at)
        .where(Submission.state == State.QUEUED, Submission.next_attempt_at <= now)
        .order_by(Submission.due_date, Submission.created_at)
        .limit(_CANDIDATES)
        .subquery()
    )
    in_flight = (
        sa.select(Submission.tenant_id, sa.func.count().label("n"))
        .where(Submission.state == State.SUBMITTING)
        .group_by(Submission.tenant_id)
        .subquery()
    )
    ordered = (
        (
            await session.execute(
                sa.select(candidates.c.id)
                .outerjoin(in_flight, in_flight.c.tenant_id == candidates.c.tenant_id)
                .order_by(
                    candidates.c.due_date,
                    sa.func.coalesce(in_flight.c.n, 0),
                    candidates.c.created_at,
                )
            )
        )
        .scalars()
        .all()
    )
    if not ordered:
        return None
    # Lock the first candidate no other worker holds, keeping the order computed above.
    for sid in ordered:
        submission = (
            await session.execute(
                sa.select(Submission)
                .where(Submission.id == sid, Submission.state == State.QUEUED)
                .with_for_update(skip_locked=True)
            )
        ).scalar_one_or_none()
        if submission is not None:
            await ledger.move(
                session,
                submission,
                State.SUBMITTING,
                claimed_by=worker,
                claimed_at=now,
                attempts=submission.attempts + 1,
            )
            return submission
    return None


async def requeue(
    session: AsyncSession, submission: Submission, after: timedelta, reason: str
) -> None:
    """A retryable failure before HMRC could have processed the return: try again later."""
    await ledger.move(
        session,
        submission,
        State.QUEUED,
        reason=reason,
        next_attempt_at=datetime.now(UTC) + after,
        claimed_by=None,
        claimed_at=None,
    )


async def stale_claims(session: AsyncSession, lease: timedelta) -> list[Submission]:
    """Returns a worker claimed but stopped touching (it died): their fate is unknown."""
    cutoff = datetime.now(UTC) - lease
    rows = await session.execute(
        sa.select(Submission)
        .where(
            Submission.state.in_([State.SUBMITTING, State.RECONCILING]),
            Submission.claimed_at < cutoff,
        )
        .with_for_update(skip_locked=True)
    )
    return list(rows.scalars())


@dataclass(frozen=True)
class Position:
    ahead: int
    estimated_at: datetime


async def position(session: AsyncSession, submission: Submission, rate: float) -> Position:
    """How many queued returns go before this one, and when it should go out at `rate`/s."""
    ahead = (
        await session.execute(
            sa.select(sa.func.count()).where(
                Submission.state == State.QUEUED,
                Submission.id != submission.id,
                sa.tuple_(Submission.due_date, Submission.created_at)
                < sa.tuple_(sa.literal(submission.due_date), sa.literal(submission.created_at)),
            )
        )
    ).scalar_one()
    start = max(datetime.now(UTC), submission.next_attempt_at)
    return Position(int(ahead), start + timedelta(seconds=(int(ahead) + 1) / rate))


async def backlog(session: AsyncSession) -> tuple[int, float]:
    """Returns waiting to be sent now or later, and the longest wait so far in seconds."""
    count, oldest = (
        await session.execute(
            sa.select(sa.func.count(), sa.func.min(Submission.created_at)).where(
                Submission.state.in_([State.QUEUED, State.SUBMITTING, State.RECONCILING])
            )
        )
    ).one()
    return int(count), (datetime.now(UTC) - oldest).total_seconds() if oldest else 0.0
