"""App factory of the hmrc_gateway service."""

from __future__ import annotations

import dataclasses

from fastapi import FastAPI

from services.common.messaging import streams
from services.common.service import Runtime, ServiceSpec, build_app
from services.common.settings import ServiceSettings, load_settings
from services.hmrc_gateway import routes
from services.hmrc_gateway.auth_client import TokenSource
from services.hmrc_gateway.core import Gateway
from services.hmrc_gateway.fraud_validation import Validator, spec_rules
from services.hmrc_gateway.settings import HmrcGatewaySettings

SPEC = ServiceSpec(
    name="hmrc_gateway",
    title="MTD VAT HMRC gateway",
    description=(
        "The only caller of HMRC's VAT API: fraud prevention headers, rate governor, "
        "safe retries, circuit breaker."
    ),
    settings_cls=HmrcGatewaySettings,
    routers=(routes.router,),
    streams=(streams.AUDIT, streams.DEAD_LETTER),
)


def create_app(
    settings: ServiceSettings | None = None,
    *,
    validator: Validator = spec_rules,
    tokens: TokenSource | None = None,
) -> FastAPI:
    settings = settings or load_settings(HmrcGatewaySettings)
    assert isinstance(settings, HmrcGatewaySettings)
    gateway = Gateway(settings, validator=validator, tokens=tokens)

    # The governor's two loops run on every replica; only one holds the dispatcher role.
    async def governor_listener(_: Runtime) -> None:
        await gateway.governor.listen_forever()

    async def governor_dispatcher(_: Runtime) -> None:
        await gateway.governor.dispatch_forever()

    spec = dataclasses.replace(SPEC, workers=(governor_listener, governor_dispatcher))
    app = build_app(spec, settings)
    app.state.gateway = gateway
    # An open breaker is HMRC's trouble, not ours: shown in /readyz, never failing it.
    app.state.runtime.readiness_details = lambda: {"breakers": gateway.breakers.describe()}
    app.state.runtime.on_start(gateway.start)
    app.state.runtime.on_stop(gateway.stop)
    return app
