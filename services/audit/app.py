"""App factory of the audit service."""

from __future__ import annotations

from fastapi import FastAPI

from services.audit import ingest, retention
from services.audit.context import AuditContext
from services.audit.routes import router
from services.audit.settings import AuditSettings
from services.common.messaging import streams
from services.common.service import Runtime, ServiceSpec, build_app
from services.common.settings import ServiceSettings, load_settings


async def ingest_events(runtime: Runtime) -> None:
    await ingest.AuditIngest(AuditContext.of(runtime), runtime.jetstream()).run()


async def apply_retention(runtime: Runtime) -> None:
    await retention.run(AuditContext.of(runtime))


SPEC = ServiceSpec(
    name="audit",
    title="MTD VAT audit",
    description=(
        "Append-only, hash-chained audit log of every HMRC exchange and privileged action."
    ),
    settings_cls=AuditSettings,
    routers=(router,),
    # The service publishes nothing; it only consumes `audit.>`.
    uses_outbox=False,
    streams=(streams.AUDIT, streams.DEAD_LETTER),
    workers=(ingest_events, apply_retention),
)


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    settings = settings or load_settings(AuditSettings)
    assert isinstance(settings, AuditSettings)
    return build_app(SPEC, settings)
