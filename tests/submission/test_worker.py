"""The worker against the real gateway and HMRC simulator: every outcome, and each fault
the simulator can inject, ends in the right state with the return stored at HMRC once."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from services.common.database import Database
from services.submission import ledger, queue, sweeper
from services.submission.gateway_client import GatewayClient
from services.submission.hmrc_port import Accepted, SubmitRequest
from services.submission.models import Submission
from services.submission.states import State
from services.submission.worker import Worker
from tests.hmrc_gateway import devices
from tests.hmrc_gateway.conftest import Simulator
from tests.submission.returns import vat_return

TENANT = str(uuid.uuid4())


def context() -> dict[str, Any]:
    return {"device": devices.device("DESKTOP_APP_VIA_SERVER"), "connection": devices.connection()}


async def queued(db: Database, vrn: str, period_key: str, **changes: Any) -> uuid.UUID:
    async with db.transaction() as session:
        created = await ledger.create(
            session,
            tenant_id=TENANT,
            vrn=vrn,
            due_date=date.today() + timedelta(days=10),
            idempotency_key=uuid.uuid4().hex,
            vat_return=vat_return(period_key, **changes),
            client_context=context(),
        )
    return created.id


async def state_of(db: Database, sid: uuid.UUID) -> Submission:
    async with db.sessions() as session:
        found = await session.get(Submission, sid)
    assert found is not None
    return found


async def steps(db: Database, sid: uuid.UUID) -> list[str]:
    async with db.sessions() as session:
        return [t.to_state for t in await ledger.history(session, sid)]


async def sent_and_stored(simulator: Simulator, vrn: str, period_key: str) -> tuple[int, int]:
    """(submit requests the simulator received, returns it stored for this period)."""
    counters = await simulator.control("GET", "/counters")
    sent = sum(counters["requests"].get("submit_return", {}).values())
    return sent, int(counters["returnsStored"].get(vrn, {}).get(period_key, 0))


async def due_now(db: Database, sid: uuid.UUID) -> None:
    """Skip the back-off wait (the test does not sleep for minutes)."""
    async with db.transaction() as session:
        await session.execute(
            sa.update(Submission).where(Submission.id == sid).values(next_attempt_at=sa.func.now())
        )


async def test_accepted_with_receipt(
    sdb: Database, hmrc: GatewayClient, simulator: Simulator
) -> None:
    vrn = await simulator.connect_user()
    sid = await queued(sdb, vrn, "A001")
    assert await Worker(sdb, hmrc, "w1").run_once()
    done = await state_of(sdb, sid)
    assert done.state == State.ACCEPTED
    assert done.receipt is not None
    assert done.receipt["formBundleNumber"]
    assert done.receipt["processingDate"]
    assert done.receipt["correlationId"]
    assert await steps(sdb, sid) == ["received", "queued", "submitting", "accepted"]
    assert not await Worker(sdb, hmrc, "w1").run_once()  # nothing left


async def test_hmrc_rejection_is_final_with_hmrc_code(
    sdb: Database, hmrc: GatewayClient, simulator: Simulator
) -> None:
    vrn = await simulator.connect_user()
    sid = await queued(sdb, vrn, "A002", totalVatDue=Decimal("999.99"))
    await Worker(sdb, hmrc, "w1").run_once()
    done = await state_of(sdb, sid)
    assert done.state == State.REJECTED
    assert done.error_code == "INVALID_REQUEST"
    assert done.error_message
    async with sdb.sessions() as session:
        rejected = (await ledger.history(session, sid))[-1]
    inner = {e.get("code") for e in rejected.details["errors"]}
    assert "VAT_TOTAL_VALUE" in inner  # HMRC's own code: box 3 is not box 1 + box 2
    assert await sent_and_stored(simulator, vrn, "A002") == (1, 0)


async def test_accepted_but_answered_500_is_reconciled_not_resent(
    sdb: Database, hmrc: GatewayClient, simulator: Simulator
) -> None:
    vrn = await simulator.connect_user()
    sid = await queued(sdb, vrn, "A003")
    await simulator.control(
        "PUT", "/faults/submit_return", json={"after_accept": "error", "remaining": 1}
    )
    await Worker(sdb, hmrc, "w1").run_once()
    done = await state_of(sdb, sid)
    assert done.state == State.ACCEPTED
    assert done.receipt is not None
    assert done.receipt["reconciled"] is True
    assert await steps(sdb, sid) == [
        "received",
        "queued",
        "submitting",
        "uncertain",
        "reconciling",
        "accepted",
    ]
    assert await sent_and_stored(simulator, vrn, "A003") == (1, 1)


async def test_worker_killed_after_sending_is_reconciled_not_resent(
    sdb: Database, hmrc: GatewayClient, simulator: Simulator
) -> None:
    vrn = await simulator.connect_user()
    sid = await queued(sdb, vrn, "A004")
    async with sdb.transaction() as session:
        claimed = await queue.claim_next(session, "doomed")
    assert claimed is not None
    # The doomed worker's request reaches HMRC and is stored; then the worker dies before
    # recording anything (no outcome is written).
    outcome = await hmrc.submit(
        SubmitRequest(
            tenant_id=TENANT,
            vrn=vrn,
            vat_return=claimed.vat_return,
            due_date=claimed.due_date,
            submission_id=str(claimed.id),
            client_context=claimed.client_context,
        )
    )
    assert isinstance(outcome, Accepted)
    async with sdb.transaction() as session:
        await session.execute(
            sa.update(Submission)
            .where(Submission.id == sid)
            .values(claimed_at=sa.func.now() - sa.text("interval '1 hour'"))
        )
    assert await sweeper.sweep(sdb, timedelta(minutes=5)) == 1
    assert (await state_of(sdb, sid)).state == State.RECONCILING
    await Worker(sdb, hmrc, "w1").run_once()
    assert (await state_of(sdb, sid)).state == State.ACCEPTED
    assert await sent_and_stored(simulator, vrn, "A004") == (1, 1)


async def test_duplicate_with_different_figures_is_rejected_clearly(
    sdb: Database, hmrc: GatewayClient, simulator: Simulator
) -> None:
    vrn = await simulator.connect_user()
    other = await queued(
        sdb,
        vrn,
        "A005",
        vatDueSales=Decimal("50.00"),
        totalVatDue=Decimal("50.00"),
        netVatDue=Decimal("10.00"),
    )
    await Worker(sdb, hmrc, "w1").run_once()
    assert (await state_of(sdb, other)).state == State.ACCEPTED
    # HMRC holds those figures; another return for the period arrives here (say the first
    # was filed through other software and this platform only learnt of it now).
    async with sdb.transaction() as session:
        await session.execute(
            sa.update(Submission).where(Submission.id == other).values(state="rejected")
        )
    sid = await queued(sdb, vrn, "A005")
    await Worker(sdb, hmrc, "w1").run_once()
    done = await state_of(sdb, sid)
    assert done.state == State.REJECTED
    assert done.error_code == "DUPLICATE_SUBMISSION_DIFFERENT_FIGURES"


async def test_outage_then_recovery_ends_accepted_once(
    sdb: Database, hmrc: GatewayClient, simulator: Simulator
) -> None:
    vrn = await simulator.connect_user()
    sid = await queued(sdb, vrn, "A006")
    await simulator.control("PUT", "/outage", json={"seconds": 60})
    worker = Worker(sdb, hmrc, "w1")
    await worker.run_once()
    # HMRC answered 503 to the POST: it may or may not have landed, so the return is not
    # resent blindly; while HMRC stays down it waits in reconciliation.
    assert (await state_of(sdb, sid)).state == State.RECONCILING
    await simulator.control("DELETE", "/outage")
    async with asyncio.timeout(20):
        while (await state_of(sdb, sid)).state != State.ACCEPTED:
            await due_now(sdb, sid)
            await worker.run_once()
            await asyncio.sleep(0.3)  # the gateway's breaker re-closes after its pause
    history = await steps(sdb, sid)
    assert history[:5] == ["received", "queued", "submitting", "uncertain", "reconciling"]
    assert history[-3:] == ["queued", "submitting", "accepted"]  # not found → sent again
    assert (await sent_and_stored(simulator, vrn, "A006"))[1] == 1


async def test_gateway_status_reports_closed_breakers(hmrc: GatewayClient) -> None:
    status = await hmrc.status()
    assert status is not None
    assert {b["state"] for b in status["breakers"].values()} == {"closed"}


async def test_a_due_reconciliation_goes_before_the_next_send(
    sdb: Database, hmrc: GatewayClient, simulator: Simulator
) -> None:
    """After an outage the few returns of unknown fate are the oldest waiting: they must
    not wait behind the whole backlog of sends."""
    vrn = await simulator.connect_user()
    unknown = await queued(sdb, vrn, "A010")
    async with sdb.transaction() as session:
        assert await queue.claim_next(session, "doomed") is not None  # it dies holding it
    async with sdb.transaction() as session:
        await session.execute(
            sa.update(Submission)
            .where(Submission.id == unknown)
            .values(claimed_at=sa.func.now() - sa.text("interval '1 hour'"))
        )
    assert await sweeper.sweep(sdb, timedelta(minutes=5)) == 1
    waiting = await queued(sdb, vrn, "A011")

    assert await Worker(sdb, hmrc, "w1").run_once()
    # HMRC never saw it, so reconciliation puts it back in the queue; the send waits.
    assert (await state_of(sdb, unknown)).state == State.QUEUED
    assert (await state_of(sdb, waiting)).state == State.QUEUED
    assert await sent_and_stored(simulator, vrn, "A011") == (0, 0)


async def test_an_open_breaker_holds_sends_back_rather_than_bouncing_each_return(
    sdb: Database, hmrc: GatewayClient, simulator: Simulator
) -> None:
    vrn = await simulator.connect_user()
    sids = [await queued(sdb, vrn, f"A02{n}") for n in range(6)]
    await simulator.control("PUT", "/outage", json={"seconds": 60})
    worker = Worker(sdb, hmrc, "w1")
    # Failing calls open the gateway's breaker (3 failures in the tests' gateway); the
    # first send refused by the open breaker closes the gate.
    for _ in range(len(sids)):
        if worker.gate.remaining() > 0:
            break
        await worker.run_once()
    assert worker.gate.remaining() > 0
    untouched = [sid for sid in sids if await steps(sdb, sid) == ["received", "queued"]]
    assert untouched, "the gate closed only after every return was claimed"
    for _ in range(3):
        await worker.run_once()
    for sid in untouched:
        assert await steps(sdb, sid) == ["received", "queued"]  # not claimed, not bounced

    await simulator.control("DELETE", "/outage")
    async with asyncio.timeout(20):
        while [(await state_of(sdb, sid)).state for sid in untouched] != [State.ACCEPTED] * len(
            untouched
        ):
            for sid in sids:
                await due_now(sdb, sid)
            await worker.run_once()
            await asyncio.sleep(0.2)
    for sid in untouched:
        assert await steps(sdb, sid) == ["received", "queued", "submitting", "accepted"]
