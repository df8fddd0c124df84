"""App factory of the hmrc_gateway service."""

from __future__ import annotations

from fastapi import FastAPI

from services.common.messaging import streams
from services.common.service import ServiceSpec, build_app
from services.common.settings import ServiceSettings, load_settings
from services.hmrc_gateway.settings import HmrcGatewaySettings

SPEC = ServiceSpec(
    name="hmrc_gateway",
    title="MTD VAT HMRC gateway",
    description=(
        "The only caller of HMRC's VAT API: fraud prevention headers, rate governor, "
        "safe retries, circuit breaker."
    ),
    settings_cls=HmrcGatewaySettings,
    streams=(streams.AUDIT, streams.DEAD_LETTER),
)


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    return build_app(SPEC, settings or load_settings(HmrcGatewaySettings))
