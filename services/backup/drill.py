"""The disaster-recovery drill: load, back up, keep writing, destroy, restore to a fresh
server, verify, and measure RTO (restore + verify) and RPO (from the last write a client
saw committed to the newest write the restored server has)."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from services.audit import chain
from services.backup import base, dataset, logical
from services.backup.catalog import Catalog
from services.backup.conninfo import Conn
from services.backup.site import ARCHIVE_TIMEOUT_SECONDS, ArchivingServer
from services.common import migrations
from services.stack.embedded import free_port

SERVICES = ("submission", "audit")
# Beyond archive_timeout, what may still separate a commit from the archive: the spool
# agent's poll, sealing a 16 MiB file, and the checkpointer noticing the timeout.
RPO_SLACK_SECONDS = 10.0
# Restore and verify on one machine within this (docs/decisions/0072-dr-objectives.md).
RTO_TARGET_SECONDS = 300.0

Progress = Callable[[str], None]


def quiet(_: str) -> None:
    pass


@dataclass
class Snapshot:
    states: dict[str, int]
    transitions: int
    chain_ok: bool
    audit_records: int
    head_hash: str | None
    newest_commit: datetime | None = None


@dataclass
class DrillReport:
    returns: int
    audit_records: int
    load_seconds: float
    base_backup_seconds: float
    base_backup_bytes: int
    logical_backup_seconds: float
    logical_backup_bytes: int
    writer_commits: int
    restore_seconds: float
    verify_seconds: float
    rto_seconds: float
    rpo_seconds: float
    rpo_bound_seconds: float
    last_commit_before_loss: str | None
    newest_commit_after_restore: str | None
    archive_timeout_seconds: int
    expected: dict[str, Any]
    restored: dict[str, Any]
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed}


async def connect(conn: Conn, database: str) -> asyncpg.Connection:
    return await asyncpg.connect(**conn.on(database).asyncpg_kwargs())


async def prepare(conn: Conn) -> None:
    """Create and migrate the service databases the drill loads, with the real schemas."""
    server_url = conn.sqlalchemy_url()
    for service in SERVICES:
        name = migrations.database_name(service)
        await migrations.ensure_database(server_url, name)
        url = conn.on(name).sqlalchemy_url()
        await asyncio.to_thread(migrations.upgrade, service, url)


async def snapshot(conn: Conn) -> Snapshot:
    sub = await connect(conn, migrations.database_name("submission"))
    try:
        rows = await sub.fetch(
            "SELECT state, count(*) AS n FROM submissions WHERE tenant_id <> $1 GROUP BY state",
            dataset.WRITER_TENANT,
        )
        transitions = await sub.fetchval(
            """SELECT count(*) FROM submission_transitions t
               JOIN submissions s ON s.id = t.submission_id WHERE s.tenant_id <> $1""",
            dataset.WRITER_TENANT,
        )
        # The newest write that survived: a writer's return, else (none came back) the
        # newest loaded one, so a lost writer shows as a long RPO rather than none.
        newest = await sub.fetchval("SELECT max(created_at) FROM submissions")
    finally:
        await sub.close()
    engine = create_async_engine(conn.on(migrations.database_name("audit")).sqlalchemy_url())
    try:
        async with AsyncSession(engine) as session:
            verification = await chain.verify(session)
    finally:
        await engine.dispose()
    return Snapshot(
        states={r["state"]: r["n"] for r in rows},
        transitions=int(transitions),
        chain_ok=verification.ok,
        audit_records=verification.records_checked,
        head_hash=verification.head_hash,
        newest_commit=newest,
    )


class Writer:
    """Commits a return every `interval` seconds until the server goes away; remembers the
    newest commit the server acknowledged (what a client believes is safe)."""

    def __init__(self, conn: Conn, interval: float = 0.05) -> None:
        self.conn, self.interval = conn, interval
        self.commits = 0
        self.last_commit: datetime | None = None

    async def run(self) -> None:
        db = await connect(self.conn, migrations.database_name("submission"))
        try:
            while True:
                at = await db.fetchval(WRITE_SQL, dataset.WRITER_TENANT, self.commits)
                self.commits += 1
                self.last_commit = at
                await asyncio.sleep(self.interval)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            return  # the server is gone: that is the point of the drill
        finally:
            db.terminate()


WRITE_SQL = """
WITH s AS (
    INSERT INTO submissions (id, tenant_id, vrn, period_key, due_date, idempotency_key,
        request_hash, vat_return, client_context, state, attempts, next_attempt_at,
        trace_context, created_at, updated_at)
    VALUES (gen_random_uuid(), $1, (900000000 + $2)::text, '25A1', date '2025-05-07',
        'writer-' || $2, md5($2::text) || md5($2::text), '{"periodKey": "25A1"}', '{}',
        'received', 0, clock_timestamp(), '{}', clock_timestamp(), clock_timestamp())
    RETURNING id, created_at
), t AS (
    INSERT INTO submission_transitions (submission_id, from_state, to_state, at, details)
    SELECT id, NULL, 'received', created_at, '{}' FROM s
)
SELECT created_at FROM s
"""


def compare(expected: Snapshot, restored: Snapshot) -> list[str]:
    problems: list[str] = []
    if restored.states != expected.states:
        problems.append(f"returns per state differ: {restored.states} != {expected.states}")
    if restored.transitions != expected.transitions:
        problems.append(f"transitions {restored.transitions} != {expected.transitions}")
    if not restored.chain_ok:
        problems.append("the audit chain does not verify after restore")
    if (restored.audit_records, restored.head_hash) != (
        expected.audit_records,
        expected.head_hash,
    ):
        problems.append("the audit chain head differs from the one backed up")
    return problems


def summary(s: Snapshot) -> dict[str, Any]:
    return {
        "returns": sum(s.states.values()),
        "states": dict(sorted(s.states.items())),
        "transitions": s.transitions,
        "audit_records": s.audit_records,
        "audit_chain_ok": s.chain_ok,
        "audit_head_hash": s.head_hash,
    }


async def run(
    workdir: Path,
    key: bytes,
    *,
    returns: int,
    write_seconds: float | None = None,
    archive_timeout: int = ARCHIVE_TIMEOUT_SECONDS,
    keep: bool = False,
    say: Progress = quiet,
) -> DrillReport:
    """`write_seconds` (default: archive_timeout + 15 s) of writes after the base backup, so
    at least one timed WAL switch happens under load before the loss."""
    if write_seconds is None:
        write_seconds = archive_timeout + 15.0
    root = workdir / "backups"
    archive = root / "wal"
    site = ArchivingServer(workdir / "site", archive, key, archive_timeout)
    restored_server = None
    try:
        site.start()
        conn = site.conn
        say(f"server with WAL archiving every {archive_timeout}s on port {site.server.port}")
        started = time.monotonic()
        await prepare(conn)
        sub = await connect(conn, migrations.database_name("submission"))
        audit = await connect(conn, migrations.database_name("audit"))
        try:
            audit_records = await dataset.load(sub, audit, returns, say=say)
        finally:
            await sub.close()
            await audit.close()
        load_seconds = time.monotonic() - started
        say(f"loaded {returns:,} returns, {audit_records:,} audit records in {load_seconds:.1f}s")
        expected = await snapshot(conn)

        catalog = Catalog(root)
        started = time.monotonic()
        base_backup = await asyncio.to_thread(base.take, root, key, conn)
        catalog.add(base_backup)
        base_seconds = time.monotonic() - started
        say(f"base backup {base_backup.id} in {base_seconds:.1f}s")

        # Writes keep landing while the logical dumps run and until the machine is lost.
        writer = Writer(conn)
        writing = asyncio.create_task(writer.run())
        started = time.monotonic()
        logical_backup = await asyncio.to_thread(logical.take, root, key, conn)
        catalog.add(logical_backup)
        logical_seconds = time.monotonic() - started
        say(f"logical dumps in {logical_seconds:.1f}s; writing until {write_seconds:g}s")
        deadline = time.monotonic() + max(0.0, write_seconds - logical_seconds)
        while (left := deadline - time.monotonic()) > 0:
            await asyncio.sleep(min(left, 15.0))
            say(f"writing: {writer.commits} commits, {site.agent.sealed} WAL files archived")

        await asyncio.to_thread(site.destroy)
        await writing
        if site.agent.error is not None:
            raise site.agent.error
        say(f"server and its data destroyed after {writer.commits} commits; restoring")

        # RTO: from a lost server to a verified one.
        started = time.monotonic()
        newest = catalog.latest("base")
        restored_server = await asyncio.to_thread(
            base.restore, root, key, newest, workdir / "restored", free_port(), archive=archive
        )
        restore_seconds = time.monotonic() - started
        say(f"restored and promoted in {restore_seconds:.1f}s; verifying")
        restored_conn = Conn("127.0.0.1", restored_server.port, conn.user, None, "postgres")
        verified = await snapshot(restored_conn)
        rto = time.monotonic() - started
        say(f"verified in {rto - restore_seconds:.1f}s")

        last, kept = writer.last_commit, verified.newest_commit
        rpo = (last - kept).total_seconds() if last and kept else float("inf")
        bound = archive_timeout + RPO_SLACK_SECONDS
        problems = compare(expected, verified)
        if rto > RTO_TARGET_SECONDS:
            problems.append(f"RTO {rto:.0f}s is over the {RTO_TARGET_SECONDS:.0f}s target")
        if rpo > bound:
            problems.append(f"RPO {rpo:.1f}s is over archive_timeout's bound of {bound:.0f}s")
        return DrillReport(
            returns=returns,
            audit_records=audit_records,
            load_seconds=round(load_seconds, 2),
            base_backup_seconds=round(base_seconds, 2),
            base_backup_bytes=sum(a.bytes for a in base_backup.artefacts),
            logical_backup_seconds=round(logical_seconds, 2),
            logical_backup_bytes=sum(a.bytes for a in logical_backup.artefacts),
            writer_commits=writer.commits,
            restore_seconds=round(restore_seconds, 2),
            verify_seconds=round(rto - restore_seconds, 2),
            rto_seconds=round(rto, 2),
            rpo_seconds=round(max(rpo, 0.0), 3),
            rpo_bound_seconds=bound,
            last_commit_before_loss=last.isoformat() if last else None,
            newest_commit_after_restore=kept.isoformat() if kept else None,
            archive_timeout_seconds=archive_timeout,
            expected=summary(expected),
            restored=summary(verified),
            problems=problems,
        )
    finally:
        if restored_server is not None:
            restored_server.stop()
        site.destroy()
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)
