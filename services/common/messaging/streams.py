"""The platform's JetStream streams: one place that names every stream and its subjects."""

from __future__ import annotations

from services.common.messaging.connection import DEAD_LETTER, StreamSpec

__all__ = ["ALL", "AUDIT", "DEAD_LETTER", "SUBMISSIONS"]

AUDIT = StreamSpec(
    name="AUDIT",
    subjects=["audit.>"],
    max_age_s=30 * 24 * 3600.0,
    description="Audit events: HMRC exchanges, privileged actions, submission state changes",
)
SUBMISSIONS = StreamSpec(
    name="SUBMISSIONS",
    subjects=["submission.>"],
    description="Submission work and facts: queued returns, state changes, receipts",
)

ALL = (AUDIT, SUBMISSIONS, DEAD_LETTER)
