"""Service settings: environment variables with one prefix per service, secrets from files.

Each service subclasses `ServiceSettings` and sets its own `env_prefix` (``AUTH_``,
``SUBMISSION_`` …). Any setting may also come from a file named like its environment
variable (``AUTH_HMRC_CLIENT_SECRET``) in ``MTD_SECRETS_DIR`` (a Kubernetes Secret mount),
so secrets never need to sit in the environment. `load_settings` turns a validation
failure into one line naming the setting.
"""

from __future__ import annotations

import os
import sys
from typing import Literal, NoReturn, TypeVar

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Environment = Literal["development", "test", "production"]

# Values that must never be accepted as a secret outside development.
_PLACEHOLDER_SECRETS = frozenset({"", "changeme", "change-me", "secret", "password", "dev"})


def secrets_dir() -> str | None:
    """Where secret files live: `MTD_SECRETS_DIR`, else `/run/secrets/mtd` if present."""
    path = os.environ.get("MTD_SECRETS_DIR", "/run/secrets/mtd")
    return path if os.path.isdir(path) else None


class ServiceSettings(BaseSettings):
    """Settings every service has. Subclasses add their own and set `env_prefix`."""

    model_config = SettingsConfigDict(env_prefix="MTD_", extra="ignore", frozen=True)

    environment: Environment = "development"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    database_url: SecretStr | None = None
    nats_url: str = "nats://127.0.0.1:4222"
    otlp_endpoint: str | None = None
    # Seconds the pre-start check keeps retrying an unreachable dependency before giving up.
    startup_timeout: float = Field(default=10.0, gt=0)
    # Seconds a readiness check waits on one dependency.
    readiness_timeout: float = Field(default=1.0, gt=0)
    # Where the auth service is: access tokens are verified locally against its JWKS, and
    # services that call others sign in there (client credentials).
    auth_url: str | None = None
    token_issuer: str = "mtd-vat-auth"  # noqa: S105 - a name, not a secret
    token_audience: str = "mtd-vat"  # noqa: S105 - a name, not a secret
    # This service's own API client at auth, for calls to other services.
    client_id: str | None = None
    client_secret: SecretStr | None = None
    # Abuse limits (services/common/request_limits.py): the largest request body, and each
    # API client's requests per second per replica with its burst.
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    client_rate_per_second: float = Field(default=100.0, gt=0)
    client_rate_burst: int = Field(default=200, ge=1)
    # Browser origins allowed to call this service (CORS); none unless configured.
    cors_origins: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> ServiceSettings:
        if self.environment == "development":
            return self
        for name, value in self:
            if isinstance(value, SecretStr) and value.get_secret_value() in _PLACEHOLDER_SECRETS:
                env_name = setting_name(type(self), name)
                raise ValueError(f"{env_name} holds a placeholder secret; set a real one")
        return self


S = TypeVar("S", bound=ServiceSettings)


def setting_name(settings_cls: type[ServiceSettings], field: str) -> str:
    """The environment variable that sets `field`."""
    prefix = str(settings_cls.model_config.get("env_prefix", ""))
    return f"{prefix}{field}".upper()


def _fail(message: str) -> NoReturn:
    print(f"configuration error: {message}", file=sys.stderr)
    raise SystemExit(2)


def load_settings(settings_cls: type[S]) -> S:
    """Load settings or stop the process with one line per wrong setting, naming each."""
    try:
        return settings_cls(_secrets_dir=secrets_dir())
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False, include_input=False):
            loc = [str(part) for part in err["loc"]]
            reason = "is required but not set" if err["type"] == "missing" else err["msg"]
            reason = reason.removeprefix("Value error, ")
            problems.append(f"{setting_name(settings_cls, loc[0])} {reason}" if loc else reason)
        _fail("; ".join(problems))
