"""Alembic per service: each service keeps `migrations/` in its package and its own database.

`upgrade` runs a service's migrations to head; its `env.py` is two lines that call
`run_env` with the service's metadata. Migrations run synchronously (Alembic's API), so
call them from a thread when inside an event loop.
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
from alembic import command, context
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from services.common.database import async_url

SERVICES_WITH_DATABASE = (
    "auth",
    "hmrc_gateway",
    "obligations",
    "submission",
    "audit",
    "hmrc_sandbox",
)


def database_name(service: str) -> str:
    return f"mtd_{service}"


def alembic_config(service: str, url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", f"services.{service}:migrations")
    cfg.set_main_option("version_table", "alembic_version")
    if url:
        rendered = async_url(url).render_as_string(hide_password=False)
        cfg.set_main_option("sqlalchemy.url", rendered.replace("%", "%%"))
    return cfg


def upgrade(service: str, url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(service, url), revision)


def head_revision(service: str) -> str | None:
    return ScriptDirectory.from_config(alembic_config(service)).get_current_head()


async def current_revision(conn: Any) -> str | None:
    """The revision a database is at, or None when it has never been migrated."""
    exists = (await conn.execute(text("SELECT to_regclass('alembic_version')"))).scalar()
    if exists is None:
        return None
    version = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
    return str(version) if version is not None else None


async def ensure_database(server_url: str, name: str) -> bool:
    """Create database `name` on the server if missing; True when it was created."""
    url = async_url(server_url).set(drivername="postgresql", database="postgres")
    conn = await asyncpg.connect(url.render_as_string(hide_password=False), timeout=5)
    try:
        if await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            return False
        await conn.execute(f'CREATE DATABASE "{name}"')
        return True
    finally:
        await conn.close()


def run_env(target_metadata: MetaData | None) -> None:
    """Body of every service's Alembic `env.py`."""
    config = context.config
    url = config.get_main_option("sqlalchemy.url")
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return

    def do_run(connection: Connection) -> None:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()

    async def run_async() -> None:
        assert url is not None, "sqlalchemy.url is not set"
        engine = create_async_engine(url, poolclass=pool.NullPool)
        async with engine.connect() as connection:
            await connection.run_sync(do_run)
            await connection.commit()
        await engine.dispose()

    asyncio.run(run_async())
