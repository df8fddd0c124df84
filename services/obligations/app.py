"""App factory of the obligations service."""

from __future__ import annotations

from fastapi import FastAPI

from services.common.messaging import streams
from services.common.service import ServiceSpec, build_app
from services.common.settings import ServiceSettings, load_settings
from services.obligations.settings import ObligationsSettings

SPEC = ServiceSpec(
    name="obligations",
    title="MTD VAT obligations",
    description=(
        "The read side of a VAT account: obligations, liabilities and payments, cached honestly."
    ),
    settings_cls=ObligationsSettings,
    streams=(streams.SUBMISSIONS, streams.DEAD_LETTER),
)


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    return build_app(SPEC, settings or load_settings(ObligationsSettings))
