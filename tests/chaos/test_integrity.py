"""`python -m services.integrity` against real databases: a submission database written by
the ledger and an audit log built by the audit service from real NATS events. A clean
history passes; a return stuck pending, a second accepted submit for the same period and
a tampered audit link are each named, and the exit status says so."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from datetime import date, timedelta

from services.common.database import Database
from services.submission import ledger
from tests.audit.conftest import AuditApi, Publish, hmrc_exchange, new_vrn
from tests.conftest import fresh_database, sql
from tests.submission.returns import vat_return

PERIOD = "24A1"


def integrity(submission_db: str, audit_db: str, *extra: str) -> tuple[int, str]:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "services.integrity",
            "--submission-db",
            submission_db,
            "--audit-db",
            audit_db,
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done.returncode, done.stdout


async def run(submission_db: str, audit_db: str, *extra: str) -> tuple[int, str]:
    return await asyncio.to_thread(integrity, submission_db, audit_db, *extra)


async def submitted(publish: Publish, tenant: str, vrn: str, status: int) -> None:
    await publish(
        "audit.hmrc.exchange",
        hmrc_exchange(
            tenant, vrn, method="POST", endpoint="submit_return", status=status, period_key=PERIOD
        ),
    )


async def test_a_clean_history_passes_and_each_broken_invariant_is_named(
    pg_url: str, audit: AuditApi, publish: Publish, audit_db_url: str
) -> None:
    submission_db = await fresh_database(pg_url, "submission")
    db = Database(submission_db)
    tenant, vrn = str(uuid.uuid4()), new_vrn()
    try:
        async with db.transaction() as session:
            await ledger.create(
                session,
                tenant_id=tenant,
                vrn=vrn,
                due_date=date.today() + timedelta(days=30),
                idempotency_key=uuid.uuid4().hex,
                vat_return=vat_return(PERIOD),
                client_context={},
            )
    finally:
        await db.dispose()
    # HMRC answered 500 once (the return may have landed), then 200 once: sent once.
    await submitted(publish, tenant, vrn, 500)
    await submitted(publish, tenant, vrn, 200)
    await audit.wait_for_records(2)

    code, out = await run(submission_db, audit_db_url, "--json")
    report = json.loads(out)
    assert code == 0, out
    assert report["ok"] is True
    checks = {c["name"]: c for c in report["checks"]}
    assert set(checks) == {
        "no_lost_return",
        "one_acceptance_per_period",
        "sent_once_per_audit",
        "audit_chain_valid",
    }
    assert checks["no_lost_return"]["details"]["by_state"] == {"queued": 1}
    assert checks["audit_chain_valid"]["details"]["head_seq"] == 2

    # The queued return has waited two hours; HMRC answered 2xx to a second submit; someone
    # with the owner role rewrote an audit record.
    await sql(
        submission_db,
        "UPDATE submissions SET created_at = created_at - interval '2 hours'",
    )
    await submitted(publish, tenant, vrn, 201)
    await audit.wait_for_records(3)
    await sql(
        audit_db_url,
        "BEGIN; SET LOCAL session_replication_role = replica; "
        "UPDATE audit_records SET vrn = '999999999' WHERE seq = 1; COMMIT",
    )
    code, out = await run(submission_db, audit_db_url)
    assert code == 1, out
    lines = out.splitlines()
    assert lines[-1] == "integrity: 3 FAILED"
    failed = {line.split()[1] for line in lines if line.startswith("FAIL")}
    assert failed == {"no_lost_return", "sent_once_per_audit", "audit_chain_valid"}
    assert "chain broken at seq 1: index_altered" in out

    code, out = await run(submission_db, audit_db_url, "--json")
    report = json.loads(out)
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["no_lost_return"]["details"]["stuck_count"] == 1
    assert checks["sent_once_per_audit"]["details"]["periods"] == [f"{vrn}/{PERIOD} x2"]


async def test_an_unreachable_database_fails_the_check_rather_than_passing(
    pg_url: str, audit_db_url: str
) -> None:
    code, out = await run(
        "postgresql://nobody@127.0.0.1:1/none", audit_db_url, "--stuck-after", "60"
    )
    assert code == 1
    assert "FAIL  no_lost_return" in out
    assert "could not check" in out
