"""App factory of the submission service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.common.messaging import streams
from services.common.service import ServiceSpec, build_app
from services.common.settings import ServiceSettings, load_settings
from services.submission.loops import run_sweeper, run_workers, sample_metrics
from services.submission.obligations_client import ObligationsClient
from services.submission.routes import router
from services.submission.settings import SubmissionSettings

SPEC = ServiceSpec(
    name="submission",
    title="MTD VAT submission",
    description=(
        "VAT returns: validation, idempotency, a durable deadline-ordered queue, "
        "exactly-once submission."
    ),
    settings_cls=SubmissionSettings,
    routers=(router,),
    streams=(streams.SUBMISSIONS, streams.AUDIT, streams.DEAD_LETTER),
    workers=(run_workers, run_sweeper, sample_metrics),
)


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    settings = settings or load_settings(SubmissionSettings)
    assert isinstance(settings, SubmissionSettings)
    app = build_app(SPEC, settings)
    app.state.obligations = ObligationsClient(settings.obligations_url)
    started = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: FastAPI) -> AsyncIterator[None]:
        async with started(application):
            try:
                yield
            finally:
                await application.state.obligations.aclose()

    app.router.lifespan_context = lifespan
    return app
