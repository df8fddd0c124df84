"""App factory of the hmrc_sandbox service."""

from __future__ import annotations

from fastapi import FastAPI

from services.common.service import ServiceSpec, build_app
from services.common.settings import ServiceSettings, load_settings
from services.hmrc_sandbox.settings import HmrcSandboxSettings

SPEC = ServiceSpec(
    name="hmrc_sandbox",
    title="HMRC sandbox simulator",
    description=(
        "A faithful simulator of HMRC's sandbox: OAuth, test users, the VAT API and "
        "fraud prevention header validation."
    ),
    settings_cls=HmrcSandboxSettings,
    uses_nats=False,
    uses_outbox=False,
)


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    return build_app(SPEC, settings or load_settings(HmrcSandboxSettings))
