"""Real PostgreSQL servers from the pgserver binaries, each on a free port in a temporary
directory, with WAL archiving into a sealed archive; stopped when the test is done."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from services.backup import base, dataset, drill, logical
from services.backup.catalog import Backup, Catalog
from services.backup.keys import new_key_text, parse_key
from services.backup.server import PgServer
from services.backup.site import ArchivingServer
from services.common import migrations


@dataclass
class BackedUp:
    """A loaded server, its WAL archive, and one base and one logical backup of it."""

    site: ArchivingServer
    root: Path
    key: bytes
    key_text: str
    base: Backup
    logical: Backup
    expected: drill.Snapshot

    @property
    def archive(self) -> Path:
        return self.root / "wal"


@pytest.fixture
def key_text() -> str:
    return new_key_text()


@pytest.fixture
def servers() -> Iterator[list[PgServer]]:
    """Restored servers a test starts; all stopped at the end."""
    started: list[PgServer] = []
    yield started
    for server in started:
        server.stop(mode="immediate")


async def load_small(site: ArchivingServer, returns: int) -> None:
    await drill.prepare(site.conn)
    sub = await drill.connect(site.conn, migrations.database_name("submission"))
    audit = await drill.connect(site.conn, migrations.database_name("audit"))
    try:
        await dataset.load(sub, audit, returns)
    finally:
        await sub.close()
        await audit.close()


@pytest.fixture(scope="module")
async def backed_up(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[BackedUp]:
    workdir = tmp_path_factory.mktemp("backed-up")
    key_text = new_key_text()
    key = parse_key(key_text)
    root = workdir / "backups"
    site = ArchivingServer(workdir / "site", root / "wal", key, archive_timeout=60)
    site.start()
    try:
        await load_small(site, 800)
        expected = await drill.snapshot(site.conn)
        catalog = Catalog(root)
        full = await asyncio.to_thread(base.take, root, key, site.conn)
        catalog.add(full)
        dumps = await asyncio.to_thread(logical.take, root, key, site.conn)
        catalog.add(dumps)
        yield BackedUp(site, root, key, key_text, full, dumps, expected)
    finally:
        site.destroy()
