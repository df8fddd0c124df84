"""App factory of the submission service."""

from __future__ import annotations

import dataclasses

import httpx
from fastapi import FastAPI

from services.common.messaging import streams
from services.common.service import Runtime, ServiceSpec, build_app
from services.common.settings import ServiceSettings, load_settings
from services.submission.gateway_client import GatewayClient
from services.submission.loops import run_sweeper, run_workers, sample_metrics
from services.submission.obligations_client import ObligationsClient
from services.submission.routes import router
from services.submission.settings import SubmissionSettings
from services.submission.webhooks import routes as webhook_routes
from services.submission.webhooks import service as webhooks

SPEC = ServiceSpec(
    name="submission",
    title="MTD VAT submission",
    description=(
        "VAT returns: validation, idempotency, a durable deadline-ordered queue, "
        "exactly-once submission."
    ),
    settings_cls=SubmissionSettings,
    routers=(router, webhook_routes.router),
    streams=(streams.SUBMISSIONS, streams.AUDIT, streams.DEAD_LETTER),
)


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    settings = settings or load_settings(SubmissionSettings)
    assert isinstance(settings, SubmissionSettings)
    auth = httpx.AsyncClient(base_url=settings.auth_url or "", timeout=10.0)
    secret = settings.client_secret.get_secret_value() if settings.client_secret else None
    hmrc = GatewayClient(
        settings.hmrc_gateway_url, auth, settings.client_id or "submission", secret
    )

    async def workers(runtime: Runtime) -> None:
        await run_workers(runtime, hmrc)

    box = webhooks.secret_box(settings)
    spec = dataclasses.replace(
        SPEC, workers=(workers, run_sweeper, sample_metrics, webhooks.worker(settings, box))
    )
    app = build_app(spec, settings)
    app.state.webhook_box = box
    app.state.obligations = ObligationsClient(settings.obligations_url)
    app.state.hmrc = hmrc
    app.state.runtime.on_stop(app.state.obligations.aclose)
    app.state.runtime.on_stop(auth.aclose)
    app.state.runtime.on_stop(hmrc.aclose)
    return app
