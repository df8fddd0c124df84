"""Settings of the canary; environment variables start with `CANARY_` (the chart's CronJob
sets the public URLs, and mounts its API client's credentials as files)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from services.common.settings import ServiceSettings

# stack.env keys (the local stack's contract) and the settings they fill.
STACK_ENV_KEYS = {
    "AUTH_URL": "auth_url",
    "OBLIGATIONS_URL": "obligations_url",
    "SUBMISSION_URL": "submission_url",
    "AUDIT_URL": "audit_url",
    "HMRC_SANDBOX_URL": "hmrc_sandbox_url",
    "HMRC_CLIENT_ID": "hmrc_client_id",
    "HMRC_CLIENT_SECRET": "hmrc_client_secret",
    "BOOTSTRAP_CLIENT_ID": "bootstrap_client_id",
    "BOOTSTRAP_CLIENT_SECRET": "bootstrap_client_secret",
}


class CanarySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CANARY_")

    # The public API (the chart sets one URL per service behind the ingress).
    obligations_url: str | None = None
    submission_url: str | None = None
    audit_url: str | None = None
    # The canary's own API client (`client_id`/`client_secret`, roles submitter and auditor);
    # without one, a platform-admin bootstrap client (local stack only) creates it.
    bootstrap_client_id: str | None = None
    bootstrap_client_secret: SecretStr | None = None
    # Where test taxpayers come from: the HMRC simulator (or HMRC's sandbox) with the
    # platform's application credentials. Each run connects a fresh one, so an open
    # obligation always exists. Without it, `vrn` must name an already connected VRN.
    hmrc_sandbox_url: str | None = None
    hmrc_client_id: str | None = None
    hmrc_client_secret: SecretStr | None = None
    vrn: str | None = Field(default=None, pattern=r"^\d{9}$")
    # False where returns must not be sent (HMRC production): the run then reads the
    # obligations from HMRC (no cache) and checks that exchange's audit record instead.
    submit: bool = True
    # How long HMRC may take to accept the return and audit to record the exchange.
    accept_timeout: float = Field(default=120.0, gt=0)
    request_timeout: float = Field(default=30.0, gt=0)
    # Exports: a Pushgateway (job="canary"), a node-exporter textfile, or both.
    pushgateway_url: str | None = None
    textfile: Path | None = None
    # Loop mode (`--every`) serves /metrics on this port instead of pushing.
    metrics_port: int | None = Field(default=None, ge=0, le=65535)
