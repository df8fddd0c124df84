"""App factory of the audit service."""

from __future__ import annotations

from fastapi import FastAPI

from services.audit.settings import AuditSettings
from services.common.messaging import streams
from services.common.service import ServiceSpec, build_app
from services.common.settings import ServiceSettings, load_settings

SPEC = ServiceSpec(
    name="audit",
    title="MTD VAT audit",
    description=(
        "Append-only, hash-chained audit log of every HMRC exchange and privileged action."
    ),
    settings_cls=AuditSettings,
    streams=(streams.AUDIT, streams.DEAD_LETTER),
)


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    return build_app(SPEC, settings or load_settings(AuditSettings))
