"""Point-in-time recovery: a restore to a chosen instant has everything committed before
it and nothing committed after it; a restore to the latest point has both."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from pathlib import Path

import asyncpg

from services.backup import base, dataset, drill
from services.backup.catalog import Catalog
from services.backup.keys import parse_key
from services.backup.server import PgServer
from services.backup.site import ArchivingServer
from services.common import migrations
from services.stack.embedded import free_port
from tests.backup.conftest import load_small

SUBMISSIONS = migrations.database_name("submission")


async def write_batch(site: ArchivingServer, tenant: str, count: int, first: int) -> datetime:
    db = await drill.connect(site.conn, SUBMISSIONS)
    try:
        for n in range(first, first + count):
            await db.fetchval(drill.WRITE_SQL, tenant, n)
        committed: datetime = await db.fetchval("SELECT clock_timestamp()")
        return committed
    finally:
        await db.close()


async def tenants(server: PgServer) -> dict[str, int]:
    db = await asyncpg.connect(
        host="127.0.0.1", port=server.port, user="postgres", database=SUBMISSIONS
    )
    try:
        rows = await db.fetch("SELECT tenant_id, count(*) AS n FROM submissions GROUP BY tenant_id")
        return {r["tenant_id"]: r["n"] for r in rows}
    finally:
        await db.close()


def wait_archived(site: ArchivingServer, wal_file: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not (site.archive / f"{wal_file}.json").exists():
        assert time.monotonic() < deadline, f"{wal_file} was never archived"
        time.sleep(0.1)


async def test_restore_to_an_instant_excludes_later_writes(
    tmp_path: Path, key_text: str, servers: list[PgServer]
) -> None:
    key = parse_key(key_text)
    root = tmp_path / "backups"
    site = ArchivingServer(tmp_path / "site", root / "wal", key, archive_timeout=60)
    site.start()
    try:
        await load_small(site, 200)
        catalog = Catalog(root)
        catalog.add(await asyncio.to_thread(base.take, root, key, site.conn))
        before = await write_batch(site, "pitr-a", 20, 0)
        await asyncio.sleep(1.0)  # commit timestamps well apart from the target
        await write_batch(site, "pitr-b", 30, 1000)
        last = site.server.psql("postgres", "SELECT pg_walfile_name(pg_switch_wal())")
        assert last.returncode == 0, last.stderr
        wait_archived(site, last.stdout.strip())
    finally:
        site.destroy()

    target = before  # everything of batch a is committed by then, nothing of batch b
    chosen = catalog.latest("base", before=target)
    at_instant = await asyncio.to_thread(
        base.restore, root, key, chosen, tmp_path / "pitr", free_port(),
        archive=root / "wal", target_time=target,
    )  # fmt: skip
    servers.append(at_instant)
    counts = await tenants(at_instant)
    assert counts.get("pitr-a") == 20
    assert "pitr-b" not in counts
    assert sum(n for t, n in counts.items() if t.startswith("tenant-")) == 200

    latest = await asyncio.to_thread(
        base.restore, root, key, chosen, tmp_path / "latest", free_port(), archive=root / "wal"
    )
    servers.append(latest)
    counts = await tenants(latest)
    assert counts.get("pitr-a") == 20
    assert counts.get("pitr-b") == 30
    assert dataset.WRITER_TENANT not in counts
