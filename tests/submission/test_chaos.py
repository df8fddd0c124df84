"""Returns under a random fault schedule while the submission process is SIGKILLed again
and again: every return ends accepted or definitively rejected, and HMRC (the simulator)
stores exactly one return per (VRN, period).

The submission service runs as its own process (its real entry point), talking to the
real gateway, auth and simulator over HTTP; the test kills and restarts it."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import uuid
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import sqlalchemy as sa

from services.common.database import Database
from services.hmrc_gateway.app import create_app as create_gateway
from services.stack.embedded import free_port
from services.submission import ledger, sweeper
from services.submission.models import Submission, Transition
from services.submission.states import FINAL
from tests.auth.conftest import GATEWAY_ID, AuthApi
from tests.conftest import fresh_database
from tests.hmrc_gateway import devices
from tests.hmrc_gateway.conftest import Simulator, SimulatorTokens, gateway_settings
from tests.serving import serve
from tests.submission.conftest import SUBMISSION_ID
from tests.submission.returns import vat_return

VRNS, PERIODS = 100, 5  # 500 returns
KILLS = 4


def submission_process(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "services.submission"],
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def test_random_faults_and_killed_workers_lose_nothing_and_store_once(
    pg_url: str,
    nats_url: str,
    simulator: Simulator,
    auth_api: AuthApi,
    gateway_secret: str,
    submission_secret: str,
    tmp_path: Path,
) -> None:
    rng = random.Random(20261127)
    vrns = [await simulator.connect_user() for _ in range(VRNS)]
    db_url = await fresh_database(pg_url, "submission")
    db = Database(db_url)
    tenant = str(uuid.uuid4())
    today = date.today()
    try:
        for vrn in vrns:
            for n in range(PERIODS):
                async with db.transaction() as session:
                    await ledger.create(
                        session,
                        tenant_id=tenant,
                        vrn=vrn,
                        due_date=today + timedelta(days=rng.randint(0, 60)),
                        idempotency_key=uuid.uuid4().hex,
                        vat_return=vat_return(f"C{n:03d}"),
                        client_context={
                            "device": devices.device("DESKTOP_APP_VIA_SERVER"),
                            "connection": devices.connection(),
                        },
                    )
        # The fault schedule: some 503s before HMRC processes the return, some returns
        # stored but answered 500, some slow answers.
        await simulator.control(
            "PUT",
            "/faults/submit_return",
            json={
                "error_rate": 0.05,
                "error_status": 503,
                "after_accept": "error",
                "after_accept_rate": 0.05,
                "latency_ms": 20,
                "jitter_ms": 80,
            },
        )
        await simulator.control(
            "PUT", "/faults/view_return", json={"error_rate": 0.05, "error_status": 503}
        )
        settings = gateway_settings(
            await fresh_database(pg_url, "hmrc_gateway"),
            nats_url,
            simulator.url,
            auth_api.url,
            client_id=GATEWAY_ID,
            client_secret=gateway_secret,
            rate_per_second=150.0,
            breaker_failure_threshold=50,
            submit_timeout=5.0,
        )
        gateway_app = create_gateway(settings, tokens=SimulatorTokens(simulator))
        async with serve(gateway_app) as gateway_url:
            env = {
                "SUBMISSION_ENVIRONMENT": "test",
                "SUBMISSION_PORT": str(free_port()),
                "SUBMISSION_DATABASE_URL": db_url,
                "SUBMISSION_NATS_URL": nats_url,
                "SUBMISSION_AUTH_URL": auth_api.url,
                "SUBMISSION_CLIENT_ID": SUBMISSION_ID,
                "SUBMISSION_CLIENT_SECRET": submission_secret,
                "SUBMISSION_HMRC_GATEWAY_URL": gateway_url,
                "SUBMISSION_OBLIGATIONS_URL": f"http://127.0.0.1:{free_port()}",
                "SUBMISSION_WORKERS": "8",
                "SUBMISSION_LEASE_SECONDS": "4",
                "SUBMISSION_RENEW_SECONDS": "1",
                "SUBMISSION_POLL_SECONDS": "0.2",
            }
            log = tmp_path / "submission.log"
            proc = submission_process(env, log)
            try:
                for _ in range(KILLS):
                    await asyncio.sleep(rng.uniform(1.0, 3.0))
                    proc.send_signal(signal.SIGKILL)
                    proc.wait(10)
                    proc = submission_process(env, log)
                async with asyncio.timeout(240):
                    while await unfinished(db):
                        # Nothing waits for the lease in this test: re-drive dead claims.
                        await sweeper.sweep(db, timedelta(seconds=4))
                        await asyncio.sleep(0.5)
            finally:
                proc.send_signal(signal.SIGTERM)
                proc.wait(20)
            outcome = await outcomes(db)
            first_claims = await due_dates_in_first_claim_order(db)
            counters = await simulator.control("GET", "/counters")
    finally:
        await db.dispose()

    assert sum(outcome.values()) == VRNS * PERIODS
    assert set(outcome) <= {"accepted", "rejected"}, outcome
    assert outcome["accepted"] == VRNS * PERIODS  # every return is valid: all accepted
    stored: dict[str, dict[str, int]] = counters["returnsStored"]
    assert sum(n for periods in stored.values() for n in periods.values()) == VRNS * PERIODS
    assert all(n == 1 for periods in stored.values() for n in periods.values())
    # Earliest due date first: a return is never first claimed after one due later, beyond
    # what the workers of two processes (one killed, one new) could hold in flight at once.
    in_flight = 2 * 8
    late = [
        (i, j)
        for i in range(len(first_claims))
        for j in range(i + in_flight + 1, len(first_claims))
        if first_claims[j] < first_claims[i]
    ]
    assert not late, late[:5]
    print(  # the figures a reader of the test log wants
        f"\nreturns={VRNS * PERIODS} kills={KILLS} outcomes={dict(outcome)} "
        f"submit_requests={sum(counters['requests']['submit_return'].values())} "
        f"duplicate_attempts={counters['duplicateSubmissionsTotal']} "
        f"faults={counters['faults']}"
    )


async def unfinished(db: Database) -> int:
    async with db.sessions() as session:
        query = sa.select(sa.func.count()).where(Submission.state.not_in([s.value for s in FINAL]))
        return int((await session.execute(query)).scalar_one())


async def outcomes(db: Database) -> Counter[str]:
    async with db.sessions() as session:
        rows = await session.execute(sa.select(Submission.state))
        return Counter(str(state) for state in rows.scalars())


async def due_dates_in_first_claim_order(db: Database) -> list[date]:
    """Each return's due date, in the order returns were first claimed for sending."""
    async with db.sessions() as session:
        first = (
            sa.select(Transition.submission_id, sa.func.min(Transition.id).label("first"))
            .where(Transition.to_state == "submitting")
            .group_by(Transition.submission_id)
            .subquery()
        )
        rows = await session.execute(
            sa.select(Submission.due_date)
            .join(first, first.c.submission_id == Submission.id)
            .order_by(first.c.first)
        )
        return list(rows.scalars())
