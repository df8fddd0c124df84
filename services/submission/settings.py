"""Settings of the submission service; environment variables start with `SUBMISSION_`."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.common.settings import ServiceSettings


class SubmissionSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SUBMISSION_")

    hmrc_gateway_url: str = "http://127.0.0.1:8002"
    obligations_url: str = "http://127.0.0.1:8003"
    # Worker tasks in this process; each sends one return at a time.
    workers: int = Field(default=4, ge=0, le=64)
    # A claim not renewed for this long means its worker died (see decision 0050).
    lease_seconds: float = Field(default=300.0, gt=1)
    renew_seconds: float = Field(default=30.0, gt=0)
    # How often idle workers look at PostgreSQL without a NATS doorbell.
    poll_seconds: float = Field(default=1.0, gt=0)
    # HMRC's rate as the gateway spends it, for the estimated time of submission.
    hmrc_rate_per_second: float = Field(default=2.85, gt=0)
