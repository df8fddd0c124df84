"""Re-drives work that PostgreSQL says is pending but no worker is touching.

A claim whose worker stopped renewing it (the process died) may or may not have reached
HMRC, so it becomes `uncertain` and goes to reconciliation — never straight back to the
queue. A reconciliation whose worker died is released for another worker.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.common.database import Database
from services.submission import ledger, queue
from services.submission.states import State


async def sweep(db: Database, lease: timedelta) -> int:
    """Recover stale claims; returns how many were recovered."""
    async with db.transaction() as session:
        stale = await queue.stale_claims(session, lease)
        for submission in stale:
            now = datetime.now(UTC)
            if submission.state == State.SUBMITTING:
                reason = f"worker {submission.claimed_by} stopped while sending"
                await ledger.move(session, submission, State.UNCERTAIN, reason=reason)
                await ledger.move(
                    session,
                    submission,
                    State.RECONCILING,
                    reason=reason,
                    claimed_by=None,
                    claimed_at=None,
                    next_attempt_at=now,
                )
            else:
                submission.claimed_by = None
                submission.claimed_at = None
                submission.next_attempt_at = now
        return len(stale)
