"""Process entry point shared by every service: check configuration and dependencies, then
serve. A wrong setting or an unreachable dependency ends the process with one line that
names the setting — not a traceback."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from typing import NoReturn

import uvicorn
from fastapi import FastAPI
from tenacity import AsyncRetrying, stop_after_delay, wait_exponential

from services.common import migrations
from services.common.database import Database, redacted
from services.common.logging import configure_logging
from services.common.messaging.connection import probe
from services.common.service import ServiceSpec
from services.common.settings import ServiceSettings, load_settings, setting_name

KEEP_ALIVE_SECONDS = 75


def _fail(message: str) -> NoReturn:
    print(f"startup error: {message}", file=sys.stderr)
    raise SystemExit(3)


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:200]


async def prestart(spec: ServiceSpec, settings: ServiceSettings) -> None:
    """Wait (bounded by `startup_timeout`) for the database and NATS, and check migrations."""

    def retrying() -> AsyncRetrying:
        return AsyncRetrying(
            stop=stop_after_delay(settings.startup_timeout),
            wait=wait_exponential(multiplier=0.2, max=2.0),
            reraise=True,
        )

    if spec.uses_database:
        name = setting_name(spec.settings_cls, "database_url")
        if settings.database_url is None:
            _fail(f"{name} is required but not set")
        url = settings.database_url.get_secret_value()
        db = Database(url, pool_size=1, max_overflow=0)
        try:
            async for attempt in retrying():
                with attempt:
                    await db.ping(timeout=3.0)
            async with db.engine.connect() as conn:
                current = await migrations.current_revision(conn)
        except Exception as exc:
            _fail(
                f"{name}: cannot reach {redacted(url)} within "
                f"{settings.startup_timeout:g}s ({_reason(exc)})"
            )
        finally:
            await db.dispose()
        head = migrations.head_revision(spec.name)
        if current != head:
            _fail(
                f"{name}: database {redacted(url)} is at migration {current or 'none'}, "
                f"expected {head}; run `make migrate`"
            )
    if spec.uses_nats:
        name = setting_name(spec.settings_cls, "nats_url")
        try:
            async for attempt in retrying():
                with attempt:
                    await probe(settings.nats_url, name=f"{spec.name}-prestart")
        except Exception as exc:
            _fail(
                f"{name}: cannot reach NATS at {settings.nats_url} within "
                f"{settings.startup_timeout:g}s ({_reason(exc)})"
            )


def run_service(spec: ServiceSpec, create_app: Callable[[ServiceSettings], FastAPI]) -> None:
    settings = load_settings(spec.settings_cls)
    configure_logging(spec.name, settings.log_level)
    asyncio.run(prestart(spec, settings))
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
        # Longer than any client's idle-connection expiry (httpx: 5 s), so a client never
        # reuses a connection the server is closing at that instant.
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )
