"""Submission-aware status: a return the submission service saw accepted marks its obligation
"submitted, awaiting HMRC" until HMRC's own obligations show it fulfilled, so a client that
reads obligations in between does not submit the same period twice."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from services.common.database import Database
from services.common.logging import get_logger
from services.common.messaging import streams
from services.common.messaging.consumer import Consumer, Event
from services.common.service import Runtime
from services.obligations.memo import Memo
from services.obligations.models import SubmittedPeriod

log = get_logger(__name__)
marks = cast(sa.Table, SubmittedPeriod.__table__)

DURABLE = "obligations-submission-accepted"
SUBJECT = "submission.accepted"
AWAITING = "SUBMITTED_AWAITING_HMRC"


async def on_accepted(session: AsyncSession, event: Event) -> None:
    """One `submission.accepted` fact (the ledger's payload); a replay changes nothing."""
    fact: dict[str, Any] = event.data or {}
    due = fact.get("due_date")
    occurred = fact.get("occurred_at")
    stmt = insert(marks).values(
        tenant_id=str(fact["tenant_id"]),
        vrn=str(fact["vrn"]),
        period_key=str(fact["period_key"]),
        submission_id=uuid.UUID(str(fact["submission_id"])),
        due_date=date.fromisoformat(str(due)) if due else None,
        accepted_at=datetime.fromisoformat(str(occurred)) if occurred else sa.func.now(),
    )
    await session.execute(stmt.on_conflict_do_nothing())


def consumer(db: Database, runtime: Runtime) -> Consumer:
    return Consumer(
        db,
        runtime.jetstream(),
        stream=streams.SUBMISSIONS.name,
        durable=DURABLE,
        filter_subject=SUBJECT,
        handler=on_accepted,
    )


async def run_consumer(runtime: Runtime) -> None:
    await consumer(runtime.database(), runtime).run()


async def awaiting(
    db: Database, tenant_id: str, vrns: list[str], memo: Memo[Any] | None = None
) -> dict[tuple[str, str], Any]:
    """(vrn, period key) -> the mark, for the tenant's given VRNs."""
    memo_key = f"{tenant_id}:{','.join(vrns)}"
    if memo is not None:
        found, value = memo.get(memo_key)
        if found:
            return dict(value or {})
    async with db.engine.connect() as conn:
        rows = await conn.execute(
            sa.select(marks).where(marks.c.tenant_id == tenant_id, marks.c.vrn.in_(vrns))
        )
        result = {(r.vrn, r.period_key): r for r in rows}
    if memo is not None:
        memo.put(memo_key, result)
    return result


def annotate(vrn: str, obligations: list[dict[str, Any]], found: dict[Any, Any]) -> None:
    """Add `platformStatus` (OPEN, FULFILLED, SUBMITTED_AWAITING_HMRC) to each obligation."""
    for ob in obligations:
        if ob.get("status") == "F":
            ob["platformStatus"] = "FULFILLED"
            continue
        mark = found.get((vrn, ob.get("periodKey")))
        if mark is None:
            ob["platformStatus"] = "OPEN"
            continue
        ob["platformStatus"] = AWAITING
        ob["submission"] = {
            "submission_id": str(mark.submission_id),
            "accepted_at": mark.accepted_at.isoformat(),
        }


def clearer(tenant_id: str, vrn: str, *, all_open: bool) -> Any:
    """After a refresh: HMRC now shows these periods fulfilled, so the marks have done their
    job (in the refresh's own transaction). `all_open`: the answer lists every open period,
    so a marked period missing from it has been fulfilled too."""

    async def clear(conn: AsyncConnection, body: dict[str, Any]) -> None:
        obligations = body.get("obligations", [])
        if all_open:
            still_open = [str(o.get("periodKey")) for o in obligations if o.get("status") == "O"]
            await conn.execute(
                sa.delete(marks).where(
                    marks.c.tenant_id == tenant_id,
                    marks.c.vrn == vrn,
                    marks.c.period_key.not_in(still_open),
                )
            )
            return
        fulfilled = [str(o.get("periodKey")) for o in obligations if o.get("status") == "F"]
        if fulfilled:
            await conn.execute(
                sa.delete(marks).where(
                    marks.c.tenant_id == tenant_id,
                    marks.c.vrn == vrn,
                    marks.c.period_key.in_(fulfilled),
                )
            )

    return clear
