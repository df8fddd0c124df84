"""Settings of the obligations service; environment variables start with `OBLIGATIONS_`."""

from __future__ import annotations

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from services.common.settings import ServiceSettings


class ObligationsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="OBLIGATIONS_")

    # The gateway's internal API (the launcher passes OBLIGATIONS_HMRC_GATEWAY_URL). Empty is
    # tolerated in development only, so tooling can load settings without a stack.
    hmrc_gateway_url: str = ""
    # This service's own API client at auth (role platform_service), for the gateway.
    client_id: str = "obligations"

    # -- freshness policy --------------------------------------------------------------------
    # Seconds a cached answer is served without asking HMRC. Obligations change when a
    # return lands; liabilities and payments move more slowly.
    obligations_ttl_seconds: float = Field(default=300.0, ge=0)
    financial_ttl_seconds: float = Field(default=900.0, ge=0)
    # Seconds a tenant's list of connected VRNs (from auth) is reused in process; a revoked
    # connection stops being served after at most this long (the gateway refuses at once).
    connections_ttl_seconds: float = Field(default=30.0, ge=0)
    # Seconds a replica reuses a cache row or submitted-marks it has just read from
    # PostgreSQL (0 turns it off): what other replicas write shows up after at most this.
    memo_ttl_seconds: float = Field(default=1.0, ge=0)
    # Seconds one call to the gateway may take (it queues behind HMRC's rate limit).
    gateway_timeout: float = Field(default=20.0, gt=0)
    # Seconds a replica waits for another replica's refresh of the same key before it gives
    # up and answers from whatever is cached.
    refresh_lock_timeout: float = Field(default=25.0, gt=0)

    @model_validator(mode="after")
    def _gateway_required(self) -> ObligationsSettings:
        if self.environment != "development" and not self.hmrc_gateway_url:
            raise ValueError("OBLIGATIONS_HMRC_GATEWAY_URL is required outside development")
        return self
