"""App factory of the auth service."""

from __future__ import annotations

from fastapi import FastAPI

from services.auth.settings import AuthSettings
from services.common.messaging import streams
from services.common.service import ServiceSpec, build_app
from services.common.settings import ServiceSettings, load_settings

SPEC = ServiceSpec(
    name="auth",
    title="MTD VAT auth",
    description="Tenants, API clients, users with MFA, JWT signing keys and HMRC connections.",
    settings_cls=AuthSettings,
    streams=(streams.AUDIT, streams.DEAD_LETTER),
)


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    return build_app(SPEC, settings or load_settings(AuthSettings))
