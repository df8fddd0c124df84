"""Per-database logical restore into a fresh server: the roles come first, the audit log
comes back with its guard rails and its chain intact."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from services.audit import chain
from services.backup import logical
from services.backup.conninfo import Conn
from services.backup.server import PgServer
from services.stack.embedded import free_port
from tests.backup.conftest import BackedUp


async def test_one_database_restores_into_a_fresh_server(
    backed_up: BackedUp, tmp_path: Path, servers: list[PgServer]
) -> None:
    assert {a.database for a in backed_up.logical.artefacts} >= {"mtd_audit", "mtd_submission"}
    fresh = PgServer(tmp_path / "fresh", free_port())
    servers.append(fresh)
    await asyncio.to_thread(fresh.start)
    target = Conn("127.0.0.1", fresh.port, "postgres", None, "postgres")
    await asyncio.to_thread(
        logical.restore, backed_up.root, backed_up.key, backed_up.logical, "mtd_audit", target
    )
    engine = create_async_engine(target.on("mtd_audit").sqlalchemy_url())
    try:
        async with AsyncSession(engine) as session:
            verification = await chain.verify(session)
    finally:
        await engine.dispose()
    assert verification.ok
    assert verification.records_checked == backed_up.expected.audit_records > 0
    assert verification.head_hash == backed_up.expected.head_hash
    # The append-only guard came back with the data (and the role it grants to exists).
    refused = fresh.psql("mtd_audit", "DELETE FROM audit_records WHERE seq = 1")
    assert refused.returncode != 0
    assert "append-only" in refused.stderr
    role = fresh.psql("postgres", "SELECT 1 FROM pg_roles WHERE rolname = 'mtd_audit_app'")
    assert role.stdout.strip() == "1"
    # Only that database was restored.
    assert (
        fresh.psql(
            "postgres", "SELECT 1 FROM pg_database WHERE datname = 'mtd_submission'"
        ).stdout.strip()
        == ""
    )

    with pytest.raises(FileExistsError):
        logical.restore(backed_up.root, backed_up.key, backed_up.logical, "mtd_audit", target)
    with pytest.raises(ValueError, match="not a service database name"):
        logical.restore(backed_up.root, backed_up.key, backed_up.logical, "x; DROP", target)
