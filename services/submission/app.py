"""App factory of the submission service."""

from __future__ import annotations

from fastapi import FastAPI

from services.common.messaging import streams
from services.common.service import ServiceSpec, build_app
from services.common.settings import ServiceSettings, load_settings
from services.submission.settings import SubmissionSettings

SPEC = ServiceSpec(
    name="submission",
    title="MTD VAT submission",
    description=(
        "VAT returns: validation, idempotency, a durable deadline-ordered queue, "
        "exactly-once submission."
    ),
    settings_cls=SubmissionSettings,
    streams=(streams.SUBMISSIONS, streams.AUDIT, streams.DEAD_LETTER),
)


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    return build_app(SPEC, settings or load_settings(SubmissionSettings))
