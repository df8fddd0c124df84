"""Settings of the submission service; environment variables start with `SUBMISSION_`."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from services.common.settings import ServiceSettings
from services.submission.webhooks import sealing


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

    # Webhooks. Signing secrets are sealed with these keys (`base64key[,older…]`, 32 bytes
    # each, newest first); without them registering a webhook answers 503.
    webhook_keys: SecretStr | None = None
    # Retry n waits min(cap, base * 2**(n-1)) seconds, less up to half of it at random.
    webhook_backoff_base_seconds: float = Field(default=30.0, gt=0)
    webhook_backoff_cap_seconds: float = Field(default=3600.0, gt=0)
    # After this many failed attempts (about a day at the defaults) a delivery is `failed`.
    webhook_max_attempts: int = Field(default=30, ge=1, le=100)
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    webhook_poll_seconds: float = Field(default=1.0, gt=0)
    # How far back the sweep looks for accepted/rejected returns with no delivery yet.
    webhook_sweep_hours: float = Field(default=24.0, gt=0)
    webhook_durable: str = "submission-webhooks"

    @field_validator("webhook_keys")
    @classmethod
    def _webhook_keys(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            sealing.parse_keys(value.get_secret_value())
        return value
