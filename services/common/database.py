"""PostgreSQL access: one async engine per service, sessions, URL helpers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase

from services.common import jsonutil
from services.common.tenant_scope import TenantScopedSession


class Base(DeclarativeBase):
    """Declarative base; each service's models use their own subclass's metadata."""


def async_url(url: str) -> URL:
    """Accept `postgres://`, `postgresql://` or `postgresql+asyncpg://`; return the asyncpg URL."""
    parsed = make_url(url.replace("postgres://", "postgresql://", 1))
    if parsed.drivername in {"postgresql", "postgresql+psycopg", "postgresql+psycopg2"}:
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed


def with_database(url: str, database: str) -> str:
    """The same server URL pointed at another database."""
    return async_url(url).set(database=database).render_as_string(hide_password=False)


def redacted(url: str) -> str:
    return async_url(url).render_as_string(hide_password=True)


class Database:
    def __init__(self, url: str, *, pool_size: int = 5, max_overflow: int = 10) -> None:
        self.url = async_url(url)
        self.engine: AsyncEngine = create_async_engine(
            self.url,
            pool_size=pool_size,
            max_overflow=max_overflow,
            pool_pre_ping=True,
            pool_recycle=1800,
            # Waiting longer than this for a connection answers 503 SERVICE_BUSY (errors.py).
            pool_timeout=10,
            connect_args={"timeout": 5, "command_timeout": 30},
            json_serializer=jsonutil.dumps,
            json_deserializer=jsonutil.loads,
        )
        # Each transaction tells PostgreSQL the tenant (or system scope) it acts for.
        self.sessions = async_sessionmaker(
            self.engine, expire_on_commit=False, sync_session_class=TenantScopedSession
        )

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction: committed on success, rolled back on error."""
        async with self.sessions() as session, session.begin():
            yield session

    async def ping(self, timeout: float = 1.0) -> None:
        async def _ping() -> None:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))

        await asyncio.wait_for(_ping(), timeout)

    async def dispose(self) -> None:
        await self.engine.dispose()
