"""The submission service's metrics: outcomes, time to acceptance, and the queue's state as
PostgreSQL knows it (sampled, so every replica reports the same truth)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy.ext.asyncio import AsyncSession

from services.submission.models import Submission
from services.submission.states import FINAL, State

SUBMISSIONS = Counter(
    "submissions",
    "VAT returns reaching a final or notable state, by outcome.",
    ["outcome"],
)
ACCEPTANCE_DELAY = Histogram(
    "submission_acceptance_delay_seconds",
    "From the platform accepting a return to HMRC's receipt.",
    buckets=(1, 5, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 86400),
)
QUEUE_DEPTH = Gauge(
    "submission_queue_depth", "Returns not yet final, by state (from PostgreSQL).", ["state"]
)
OLDEST_AGE = Gauge(
    "submission_queue_oldest_age_seconds",
    "Age of the oldest return not yet accepted or rejected; 0 when none.",
)
DEADLINE_RISK = Gauge(
    "submission_deadline_risk_returns",
    "Returns due within the window, not accepted, and waiting longer than the queue budget.",
    ["window"],
)

QUEUE_BUDGET = timedelta(seconds=900)
WINDOWS = {"24h": timedelta(hours=24), "72h": timedelta(hours=72)}
OPEN_STATES = [s for s in State if s not in FINAL and s != State.RECEIVED]


def record_move(submission: Submission, current: State | None, target: State) -> None:
    """Called for every transition (see ledger.move)."""
    if target == State.RECEIVED:
        SUBMISSIONS.labels("received").inc()
    elif target == State.ACCEPTED:
        SUBMISSIONS.labels("accepted").inc()
        if current == State.RECONCILING:
            SUBMISSIONS.labels("reconciled").inc()
        ACCEPTANCE_DELAY.observe((datetime.now(UTC) - submission.created_at).total_seconds())
    elif target == State.REJECTED:
        SUBMISSIONS.labels("rejected").inc()
    elif target == State.QUEUED and current in (State.SUBMITTING, State.RECONCILING):
        SUBMISSIONS.labels("retried").inc()


async def sample_queue(session: AsyncSession, today: date | None = None) -> None:
    now = datetime.now(UTC)
    today = today or now.date()
    open_ = Submission.state.in_(OPEN_STATES)
    rows = await session.execute(
        sa.select(Submission.state, sa.func.count()).where(open_).group_by(Submission.state)
    )
    counts: dict[str, int] = {state: n for state, n in rows.tuples()}
    for state in OPEN_STATES:
        QUEUE_DEPTH.labels(state.value).set(counts.get(state.value, 0))
    oldest = (
        await session.execute(sa.select(sa.func.min(Submission.created_at)).where(open_))
    ).scalar()
    OLDEST_AGE.set((now - oldest).total_seconds() if oldest else 0)
    for name, window in WINDOWS.items():
        at_risk = (
            await session.execute(
                sa.select(sa.func.count()).where(
                    Submission.due_date <= today + window,
                    sa.or_(
                        sa.and_(open_, Submission.created_at < now - QUEUE_BUDGET),
                        Submission.state == State.REJECTED,
                    ),
                )
            )
        ).scalar_one()
        DEADLINE_RISK.labels(name).set(at_risk)
