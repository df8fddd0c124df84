"""Assemble a service: settings, logging, tracing, metrics, errors, health, database, NATS,
the outbox relay and the service's own background workers, in one app factory."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from nats.aio.client import Client
from nats.js import JetStreamContext
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

from services.common import health, telemetry
from services.common.database import Database
from services.common.errors import install_error_handlers
from services.common.health import Check
from services.common.logging import configure_logging, get_logger
from services.common.messaging.connection import StreamSpec, connect, ensure_stream
from services.common.messaging.outbox import OutboxRelay
from services.common.metrics import REDMiddleware, metrics_endpoint
from services.common.openapi_problems import document_errors
from services.common.request_context import RequestContextMiddleware
from services.common.request_limits import BodyLimitMiddleware, ClientRateLimiter
from services.common.security.jwt_verify import jwks_verifier
from services.common.security_headers import SecurityHeadersMiddleware
from services.common.settings import ServiceSettings

log = get_logger(__name__)

Worker = Callable[["Runtime"], Awaitable[None]]


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    title: str
    settings_cls: type[ServiceSettings]
    description: str = ""
    routers: Sequence[APIRouter] = ()
    uses_database: bool = True
    uses_nats: bool = True
    uses_outbox: bool = True
    streams: Sequence[StreamSpec] = ()
    workers: Sequence[Worker] = field(default_factory=tuple)
    # The platform's abuse limits (body size, per-client rate) and security headers; the
    # HMRC simulator answers as HMRC does, oversized bodies included.
    abuse_limits: bool = True


class Runtime:
    """What a running service holds: its settings and live connections."""

    def __init__(self, spec: ServiceSpec, settings: ServiceSettings) -> None:
        self.spec = spec
        self.settings = settings
        self.db: Database | None = None
        self.nc: Client | None = None
        self.js: JetStreamContext | None = None
        self.relay: OutboxRelay | None = None
        # Extra facts for `/readyz` that inform but never fail readiness (breaker states…).
        self.readiness_details: Callable[[], dict[str, Any]] | None = None
        self._start_hooks: list[Callable[[Runtime], Awaitable[None]]] = []
        self._stop_hooks: list[Callable[[], Awaitable[None]]] = []
        self._tasks: list[asyncio.Task[None]] = []

    def on_start(self, hook: Callable[[Runtime], Awaitable[None]]) -> None:
        """Run `hook` once connections are up, before the first request is served."""
        self._start_hooks.append(hook)

    def on_stop(self, hook: Callable[[], Awaitable[None]]) -> None:
        """Run `hook` at shutdown, before connections close (last registered, first run)."""
        self._stop_hooks.append(hook)

    def database(self) -> Database:
        assert self.db is not None, f"{self.spec.name} runs without a database"
        return self.db

    def jetstream(self) -> JetStreamContext:
        assert self.js is not None, f"{self.spec.name} runs without NATS"
        return self.js

    async def start(self) -> None:
        spec, settings = self.spec, self.settings
        if spec.uses_database:
            assert settings.database_url is not None
            self.db = Database(settings.database_url.get_secret_value())
            SQLAlchemyInstrumentor().instrument(engine=self.db.engine.sync_engine)
        if spec.uses_nats:
            self.nc = await connect(settings.nats_url, name=spec.name)
            self.js = self.nc.jetstream()
            for stream in spec.streams:
                await ensure_stream(self.js, stream)
        if self.db is not None and self.js is not None and spec.uses_outbox:
            self.relay = OutboxRelay(self.db, self.js, service=spec.name)
            self.spawn(self.relay.run(), "outbox-relay")
        for worker in spec.workers:
            self.spawn(worker(self), getattr(worker, "__name__", "worker"))
        for hook in self._start_hooks:
            await hook(self)

    def spawn(self, coro: Awaitable[None], name: str) -> None:
        async def guarded() -> None:
            try:
                await coro
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a worker must never die silently
                log.error("background task crashed", task=name, exc_info=exc)
                raise

        self._tasks.append(asyncio.create_task(guarded(), name=name))

    async def stop(self) -> None:
        for stop_hook in reversed(self._stop_hooks):
            try:
                await stop_hook()
            except Exception as exc:  # shutting down: note it and carry on closing
                log.warning("stop hook failed", error=str(exc))
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        if self.nc is not None and not self.nc.is_closed:
            with suppress(Exception):
                await self.nc.drain()
        if self.db is not None:
            await self.db.dispose()

    def readiness_checks(self) -> dict[str, Check]:
        checks: dict[str, Check] = {}
        if self.db is not None:
            db = self.db
            checks["database"] = lambda: db.ping(self.settings.readiness_timeout)
        if self.nc is not None:
            nc = self.nc

            async def nats_check() -> None:
                if not nc.is_connected:
                    raise ConnectionError("not connected")
                await nc.flush(timeout=max(1, round(self.settings.readiness_timeout)))

            checks["nats"] = nats_check
        return checks


def build_app(spec: ServiceSpec, settings: ServiceSettings) -> FastAPI:
    configure_logging(spec.name, settings.log_level)
    telemetry.setup_tracing(spec.name, settings.otlp_endpoint)
    runtime = Runtime(spec, settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        log.info("service started", port=settings.port)
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(
        title=spec.title,
        description=spec.description,
        version="1.0.0",
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    # Services verify access tokens locally from auth's JWKS (auth installs its own keys).
    app.state.token_verifier = jwks_verifier(settings, spec.name)
    install_error_handlers(app)
    document_errors(app)
    app.state.rate_limiter = (
        ClientRateLimiter(settings.client_rate_per_second, settings.client_rate_burst)
        if spec.abuse_limits
        else None
    )
    if spec.abuse_limits:
        app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
        app.add_middleware(SecurityHeadersMiddleware)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["*"],
            expose_headers=["Location", "Retry-After", "X-Request-ID", "X-CorrelationId"],
        )
    app.add_middleware(RequestContextMiddleware)
    app.add_middleware(REDMiddleware, service=spec.name)
    app.include_router(health.router)
    app.add_route("/metrics", metrics_endpoint, include_in_schema=False)
    for router in spec.routers:
        app.include_router(router)
    # No per-chunk "http send/receive" spans: one server span per request is what SREs read.
    FastAPIInstrumentor.instrument_app(
        app, excluded_urls="healthz,readyz,metrics", exclude_spans=["receive", "send"]
    )
    return app
