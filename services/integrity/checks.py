"""The invariants, each a small query against the service's own database (read only).

- no lost return: every return the API accepted is final, or still pending for less than
  the threshold; its state agrees with its last recorded transition;
- none sent twice: at most one live submission per (VRN, period) in the submission
  database, at most one HMRC submit exchange answered 2xx per (VRN, period) in the audit
  log, and, when a simulator is given, its duplicate-submission counter is zero;
- the audit chain verifies from genesis to head (services.audit.chain.verify).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import sqlalchemy as sa

from services.audit import chain
from services.audit.models import records
from services.common.database import Database
from services.submission.models import Submission, Transition
from services.submission.states import FINAL, State

# Examples listed per failed check: enough to start looking, not a dump.
EXAMPLES = 5
# The gateway names the submit exchange by its endpoint (services/hmrc_gateway/hmrc_client.py).
SUBMIT_ENDPOINT = "submit_return"


@dataclass
class Check:
    name: str
    ok: bool
    summary: str
    details: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


async def returns_not_lost(db: Database, stuck_after: timedelta) -> Check:
    now = datetime.now(UTC)
    async with db.sessions() as session:
        rows = await session.execute(
            sa.select(Submission.state, sa.func.count()).group_by(Submission.state)
        )
        counts: dict[str, int] = {str(state): int(n) for state, n in rows.all()}
        stuck = (
            await session.execute(
                sa.select(
                    Submission.id,
                    Submission.vrn,
                    Submission.period_key,
                    Submission.state,
                    Submission.created_at,
                )
                .where(Submission.state.not_in([s.value for s in FINAL]))
                .where(Submission.created_at < now - stuck_after)
                .order_by(Submission.created_at)
            )
        ).all()
        last = (
            sa.select(Transition.submission_id, sa.func.max(Transition.id).label("last_id"))
            .group_by(Transition.submission_id)
            .subquery()
        )
        disagreeing = (
            await session.execute(
                sa.select(Submission.id, Submission.state, Transition.to_state)
                .join(last, last.c.submission_id == Submission.id)
                .join(Transition, Transition.id == last.c.last_id)
                .where(Transition.to_state != Submission.state)
            )
        ).all()
    unknown = sorted(set(counts) - {s.value for s in State})
    total = sum(counts.values())
    final = sum(counts.get(s.value, 0) for s in FINAL)
    ok = not stuck and not disagreeing and not unknown
    summary = (
        f"{total} returns: {final} final, {total - final} pending, "
        f"{len(stuck)} pending longer than {stuck_after.total_seconds():g}s"
    )
    if disagreeing:
        summary += f", {len(disagreeing)} whose state differs from their last transition"
    if unknown:
        summary += f", unknown states {unknown}"
    return Check(
        "no_lost_return",
        ok,
        summary,
        {
            "by_state": counts,
            "stuck": [
                {
                    "id": str(r.id),
                    "vrn": r.vrn,
                    "period_key": r.period_key,
                    "state": r.state,
                    "created_at": r.created_at.isoformat(),
                }
                for r in stuck[:EXAMPLES]
            ],
            "stuck_count": len(stuck),
            "state_mismatch": [str(r.id) for r in disagreeing[:EXAMPLES]],
        },
    )


async def one_live_submission_per_period(db: Database) -> Check:
    async with db.sessions() as session:
        twice = (
            await session.execute(
                sa.select(Submission.vrn, Submission.period_key, sa.func.count().label("n"))
                .where(Submission.state == State.ACCEPTED.value)
                .group_by(Submission.vrn, Submission.period_key)
                .having(sa.func.count() > 1)
            )
        ).all()
    return Check(
        "one_acceptance_per_period",
        not twice,
        f"{len(twice)} (VRN, period) accepted more than once in the submission database",
        {"periods": [f"{r.vrn}/{r.period_key} x{r.n}" for r in twice[:EXAMPLES]]},
    )


async def submitted_once_per_audit(db: Database) -> Check:
    """From the audit log: HMRC answered 2xx to at most one submit per (VRN, period)."""
    async with db.sessions() as session:
        per_period = (
            await session.execute(
                sa.select(records.c.vrn, records.c.period_key, sa.func.count().label("n"))
                .where(records.c.kind == "hmrc_exchange", records.c.endpoint == SUBMIT_ENDPOINT)
                .where(records.c.response_status.between(200, 299))
                .group_by(records.c.vrn, records.c.period_key)
            )
        ).all()
    total = sum(r.n for r in per_period)
    twice = [r for r in per_period if r.n > 1]
    return Check(
        "sent_once_per_audit",
        not twice,
        f"{total} submits answered 2xx; {len(twice)} (VRN, period) answered more than once",
        {"periods": [f"{r.vrn}/{r.period_key} x{r.n}" for r in twice[:EXAMPLES]]},
    )


async def audit_chain_valid(db: Database) -> Check:
    async with db.sessions() as session:
        result = await chain.verify(session)
    broken = result.first_broken
    summary = f"{result.records_checked} links verified up to seq {result.head_seq}"
    if broken is not None:
        summary = f"chain broken at seq {broken.seq}: {broken.reason} ({broken.detail})"
    return Check(
        "audit_chain_valid",
        result.ok,
        summary,
        {"head_seq": result.head_seq, "first_broken": asdict(broken) if broken else None},
    )


async def simulator_saw_no_duplicate(url: str) -> Check:
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.get(f"{url.rstrip('/')}/control/counters")
        response.raise_for_status()
        counters = response.json()
    duplicates = int(counters.get("duplicateSubmissionsTotal", 0))
    return Check(
        "simulator_no_duplicate",
        duplicates == 0,
        f"simulator stored {counters.get('returnsStoredTotal', 0)} returns; "
        f"{duplicates} duplicate submission attempts",
        {"duplicateSubmissions": counters.get("duplicateSubmissions", {})},
    )
