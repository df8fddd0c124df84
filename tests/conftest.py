from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from nats.aio.client import Client

from services.common import migrations
from services.common.database import Database, async_url, with_database
from services.common.messaging.connection import connect
from tests.infra import nats_server, postgres_server


@pytest.fixture(scope="session")
def infra_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("infra")


@pytest.fixture(scope="session")
def pg_url(infra_dir: Path) -> Iterator[str]:
    """Server-level URL of a real PostgreSQL."""
    with postgres_server(infra_dir) as url:
        yield url


@pytest.fixture(scope="session")
def nats_url(infra_dir: Path) -> Iterator[str]:
    with nats_server(infra_dir) as url:
        yield url


async def fresh_database(pg_url: str, service: str | None = None) -> str:
    """A new, empty database (migrated for `service` when given); returns its URL."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    await migrations.ensure_database(pg_url, name)
    url = with_database(pg_url, name)
    if service:
        await asyncio.to_thread(migrations.upgrade, service, url)
    return url


@pytest.fixture
async def submission_db_url(pg_url: str) -> str:
    """A fresh database with the submission service's schema (outbox and inbox)."""
    return await fresh_database(pg_url, "submission")


@pytest.fixture
async def db(submission_db_url: str) -> AsyncIterator[Database]:
    database = Database(submission_db_url)
    yield database
    await database.dispose()


@pytest.fixture
async def nc(nats_url: str) -> AsyncIterator[Client]:
    client = await connect(nats_url, name="tests")
    yield client
    await client.close()


async def sql(url: str, statement: str) -> None:
    """Run raw SQL on a database (for test scaffolding)."""
    dsn = async_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()
