"""App factory of the obligations service."""

from __future__ import annotations

import dataclasses

from fastapi import FastAPI

from services.common.messaging import streams
from services.common.service import ServiceSpec, build_app
from services.common.settings import ServiceSettings, load_settings
from services.obligations import routes, submitted
from services.obligations.reads import Reads
from services.obligations.settings import ObligationsSettings

SPEC = ServiceSpec(
    name="obligations",
    title="MTD VAT obligations",
    description=(
        "The read side of a VAT account: obligations, liabilities and payments, cached honestly."
    ),
    settings_cls=ObligationsSettings,
    routers=(routes.router,),
    streams=(streams.SUBMISSIONS, streams.DEAD_LETTER),
    workers=(submitted.run_consumer,),
)


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    settings = settings or load_settings(ObligationsSettings)
    assert isinstance(settings, ObligationsSettings)
    app = build_app(dataclasses.replace(SPEC), settings)
    runtime = app.state.runtime
    reads = Reads(settings, runtime.database)
    app.state.reads = reads
    runtime.on_stop(reads.aclose)
    return app
