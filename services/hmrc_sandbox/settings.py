"""Settings of the hmrc_sandbox service; environment variables start with `HMRC_SANDBOX_`."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from services.common.settings import ServiceSettings


class HmrcSandboxSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="HMRC_SANDBOX_")

    # The platform's registered application at the simulator (the local stack sets both).
    client_id: str | None = None
    client_secret: SecretStr | None = None
    # Redirect URIs registered for that application; empty accepts any http(s) URI.
    redirect_uris: list[str] = Field(default_factory=list)
    # The control API (faults, clock, counters, reset) answers only when enabled.
    control_enabled: bool = False
    # HMRC's standard rate limit per application, in requests per second.
    rate_limit_per_second: float = Field(default=3.0, gt=0)
    # Seconds between a stored return and its obligation showing as fulfilled.
    fulfilment_lag_seconds: float = Field(default=0.0, ge=0)
    # Largest request body accepted (Play's default JSON buffer is 100 KiB).
    max_body_bytes: int = Field(default=100 * 1024, gt=0)
    # Deterministic mode: a fixed clock and a seed for every generated identifier.
    fixed_clock: datetime | None = None
    seed: int | None = None

    @field_validator("fixed_clock")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("must include a UTC offset, e.g. 2025-05-01T09:00:00Z")
        return value
