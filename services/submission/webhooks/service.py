"""Wiring webhooks into the submission app: the secret box, the fan-out and the sender."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from services.common.service import Runtime, Worker
from services.submission.settings import SubmissionSettings
from services.submission.webhooks import delivery, fanout, sealing


def secret_box(settings: SubmissionSettings) -> sealing.SecretBox | None:
    """None without SUBMISSION_WEBHOOK_KEYS: then no webhook can be registered or sent."""
    if settings.webhook_keys is None:
        return None
    return sealing.SecretBox(sealing.parse_keys(settings.webhook_keys.get_secret_value()))


def worker(settings: SubmissionSettings, box: sealing.SecretBox | None) -> Worker:
    """The background work: fan-out (consumers and sweep) and the sender."""
    policy = delivery.Policy(
        base_s=settings.webhook_backoff_base_seconds,
        cap_s=settings.webhook_backoff_cap_seconds,
        max_attempts=settings.webhook_max_attempts,
        timeout_s=settings.webhook_timeout_seconds,
        public_only=settings.environment == "production",
    )

    async def webhooks(runtime: Runtime) -> None:
        if box is None:
            return
        window = timedelta(hours=settings.webhook_sweep_hours)
        await asyncio.gather(
            fanout.run(runtime, settings.webhook_durable, window),
            delivery.run(runtime.database(), box, policy, settings.webhook_poll_seconds),
        )

    return webhooks
