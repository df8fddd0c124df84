"""The submission ledger and queue on a real PostgreSQL: state machine, one live return per
period, earliest due date first, fairness across tenants, and workers that never
double-claim."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from services.common.database import Database
from services.common.messaging.tables import outbox
from services.submission import ledger, queue
from services.submission.models import Submission, Transition
from services.submission.states import IllegalTransition, State
from tests.submission.returns import vat_return


async def add(
    db: Database, tenant: str, vrn: str, period: str, due: date, key: str | None = None
) -> Submission:
    async with db.transaction() as session:
        return await ledger.create(
            session,
            tenant_id=tenant,
            vrn=vrn,
            due_date=due,
            idempotency_key=key or uuid.uuid4().hex,
            vat_return=vat_return(period),
            client_context={},
        )


async def claim(db: Database, worker: str = "w1") -> Submission | None:
    async with db.transaction() as session:
        return await queue.claim_next(session, worker)


async def test_create_records_received_then_queued_with_events(sdb: Database) -> None:
    created = await add(sdb, "t1", "123456789", "24A1", date(2026, 12, 7))
    async with sdb.sessions() as session:
        steps = await ledger.history(session, created.id)
        subjects = (
            (await session.execute(sa.select(outbox.c.subject).order_by(outbox.c.created_at)))
            .scalars()
            .all()
        )
        stored = await session.get(Submission, created.id)
    assert [(t.from_state, t.to_state) for t in steps] == [
        (None, "received"),
        ("received", "queued"),
    ]
    assert all(t.at.tzinfo is not None for t in steps)
    assert sorted(subjects) == sorted(
        [
            "submission.received",
            "audit.submission.received",
            "submission.queued",
            "audit.submission.queued",
        ]
    )
    assert stored is not None
    assert stored.vat_return["vatDueSales"] == "100.10"  # exact decimal string, never a float


async def test_one_live_submission_per_period(sdb: Database) -> None:
    await add(sdb, "t1", "123456789", "24A1", date(2026, 12, 7))
    with pytest.raises(IntegrityError):
        await add(sdb, "t1", "123456789", "24A1", date(2026, 12, 7))
    # Once rejected, the period is free for a corrected return.
    async with sdb.transaction() as session:
        first = await queue.claim_next(session, "w1")
        assert first is not None
        await ledger.move(session, first, State.REJECTED, reason="INVALID_MONETARY_AMOUNT")
    await add(sdb, "t1", "123456789", "24A1", date(2026, 12, 7))


async def test_illegal_moves_are_refused(sdb: Database) -> None:
    created = await add(sdb, "t1", "123456789", "24A1", date(2026, 12, 7))
    async with sdb.transaction() as session:
        stored = await session.get(Submission, created.id)
        assert stored is not None
        with pytest.raises(IllegalTransition):
            await ledger.move(session, stored, State.ACCEPTED)


async def test_claims_go_earliest_due_first_and_fair_across_tenants(sdb: Database) -> None:
    late = await add(sdb, "bulk", "100000001", "24A3", date(2027, 3, 7))
    bulk = [await add(sdb, "bulk", f"2000000{n:02d}", "24A2", date(2027, 1, 7)) for n in range(3)]
    single = await add(sdb, "small", "300000001", "24A2", date(2027, 1, 7))
    early = await add(sdb, "small", "400000001", "24A1", date(2026, 12, 7))

    first = await claim(sdb)
    assert first is not None
    assert first.id == early.id
    async with sdb.transaction() as session:
        done = await session.get(Submission, early.id)
        assert done is not None
        await ledger.move(session, done, State.ACCEPTED)
    order = [first.id]
    while (claimed := await claim(sdb)) is not None:
        order.append(claimed.id)
    # Same due date: bulk's first return, then small's (bulk now has one in flight), then
    # the rest of bulk's; the March return last.
    assert order[1:] == [bulk[0].id, single.id, bulk[1].id, bulk[2].id, late.id]


async def test_concurrent_workers_never_claim_the_same_return(sdb: Database) -> None:
    for n in range(40):
        await add(sdb, f"t{n % 4}", f"5000000{n:02d}", "24A1", date(2026, 12, 1) + timedelta(n))

    async def worker(name: str) -> list[uuid.UUID]:
        got = []
        while (claimed := await claim(sdb, name)) is not None:
            got.append(claimed.id)
        return got

    results = await asyncio.gather(*(worker(f"w{i}") for i in range(6)))
    claimed = [sid for r in results for sid in r]
    assert len(claimed) == 40
    assert len(set(claimed)) == 40


async def test_requeue_waits_and_position_counts_those_ahead(sdb: Database) -> None:
    first = await add(sdb, "t1", "600000001", "24A1", date(2026, 12, 1))
    second = await add(sdb, "t1", "600000002", "24A1", date(2026, 12, 2))
    third = await add(sdb, "t1", "600000003", "24A1", date(2026, 12, 3))
    async with sdb.sessions() as session:
        pos = await queue.position(session, third, rate=2.0)
    assert pos.ahead == 2
    async with sdb.transaction() as session:
        claimed = await queue.claim_next(session, "w1")
        assert claimed is not None
        assert claimed.id == first.id
        await queue.requeue(session, claimed, timedelta(minutes=5), reason="MESSAGE_THROTTLED_OUT")
    # The throttled one waits its turn; the next ready one goes.
    nxt = await claim(sdb)
    assert nxt is not None
    assert nxt.id == second.id
    async with sdb.sessions() as session:
        steps = await ledger.history(session, first.id)
    assert [t.to_state for t in steps] == ["received", "queued", "submitting", "queued"]
    assert steps[-1].reason == "MESSAGE_THROTTLED_OUT"


async def test_stale_claims_are_found_for_reconciliation(sdb: Database) -> None:
    created = await add(sdb, "t1", "700000001", "24A1", date(2026, 12, 1))
    await claim(sdb, "doomed-worker")
    async with sdb.transaction() as session:
        assert await queue.stale_claims(session, timedelta(minutes=1)) == []
        await session.execute(
            sa.update(Submission)
            .where(Submission.id == created.id)
            .values(claimed_at=sa.func.now() - sa.text("interval '10 minutes'"))
        )
    async with sdb.transaction() as session:
        stale = await queue.stale_claims(session, timedelta(minutes=1))
    assert [s.id for s in stale] == [created.id]
    assert stale[0].claimed_by == "doomed-worker"
    async with sdb.sessions() as session:
        assert (
            await session.execute(sa.select(sa.func.count()).select_from(Transition))
        ).scalar_one() == 3


async def test_queue_metrics_come_from_postgresql(sdb: Database) -> None:
    from prometheus_client import REGISTRY

    from services.submission import metrics

    today = date(2026, 12, 1)
    for n in range(3):
        await add(sdb, "t1", f"80000000{n}", "24A1", today + timedelta(days=n * 3))
    claimed = await claim(sdb)
    assert claimed is not None
    async with sdb.transaction() as session:
        await session.execute(
            sa.update(Submission).values(
                created_at=sa.func.now() - sa.text("interval '20 minutes'")
            )
        )
    async with sdb.sessions() as session:
        await metrics.sample_queue(session, today=today)

    def value(name: str, **labels: str) -> float | None:
        return REGISTRY.get_sample_value(name, labels)

    assert value("submission_queue_depth", state="queued") == 2
    assert value("submission_queue_depth", state="submitting") == 1
    assert value("submission_queue_oldest_age_seconds") >= 20 * 60
    # Due today and in 3 days, both waiting past the 15-minute budget.
    assert value("submission_deadline_risk_returns", window="24h") == 1
    assert value("submission_deadline_risk_returns", window="72h") == 2
    assert value("submissions_total", outcome="received") >= 3
