"""Service settings: environment variables with one prefix per service, secrets from files.

Each service subclasses `ServiceSettings` and sets its own `env_prefix` (``AUTH_``,
``SUBMISSION_`` …). Any setting may also come from a file named like its environment
variable (``AUTH_HMRC_CLIENT_SECRET``) in ``MTD_SECRETS_DIR`` (a Kubernetes Secret mount),
and a secret setting from a file named by ``<NAME>_FILE`` or from Vault
(services/common/secrets_source.py), so secrets never need to sit in the environment.
`load_settings` turns a validation failure into one line naming the setting.
"""

from __future__ import annotations

import sys
from typing import Any, Literal, NoReturn, TypeVar

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from services.common.secrets_source import SecretSource, SecretSourceError, secrets_dir

Environment = Literal["development", "test", "production"]

# Values that must never be accepted as a secret outside development.
_PLACEHOLDER_SECRETS = frozenset(
    {"", "changeme", "change-me", "secret", "password", "dev", "development", "insecure", "test"}
)
# Prefixes of values made for development or examples, refused elsewhere too.
_PLACEHOLDER_PREFIXES = ("dev-", "dev_", "insecure", "example", "changeme")


def is_placeholder_secret(value: str) -> bool:
    lowered = value.strip().lower()
    return lowered in _PLACEHOLDER_SECRETS or lowered.startswith(_PLACEHOLDER_PREFIXES)


def _is_secret_field(annotation: Any) -> bool:
    return annotation is SecretStr or SecretStr in getattr(annotation, "__args__", ())


class _SecretSettingsSource(PydanticBaseSettingsSource):
    """Secret settings (`SecretStr` fields) from `<NAME>_FILE` files or from Vault."""

    def __init__(self, settings_cls: type[BaseSettings], kind: Literal["file", "vault"]) -> None:
        super().__init__(settings_cls)
        self.kind = kind

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ reads every field at once

    def __call__(self) -> dict[str, Any]:
        source = SecretSource()
        if self.kind == "vault" and source.vault is None:
            return {}
        read = source.from_file_pointer if self.kind == "file" else source.from_vault
        prefix = str(self.settings_cls.model_config.get("env_prefix", ""))
        values: dict[str, Any] = {}
        for name, field in self.settings_cls.model_fields.items():
            if _is_secret_field(field.annotation):
                value = read(f"{prefix}{name}".upper())
                if value is not None:
                    values[name] = value
        return values


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

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The order of services/common/secrets_source.py: a named file, the environment,
        # Vault, then the mounted secrets directory.
        return (
            init_settings,
            _SecretSettingsSource(settings_cls, "file"),
            env_settings,
            _SecretSettingsSource(settings_cls, "vault"),
            dotenv_settings,
            file_secret_settings,
        )

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> ServiceSettings:
        if self.environment == "development":
            return self
        for name, value in self:
            if isinstance(value, SecretStr) and is_placeholder_secret(value.get_secret_value()):
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
    except SecretSourceError as exc:
        _fail(str(exc))
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False, include_input=False):
            loc = [str(part) for part in err["loc"]]
            reason = "is required but not set" if err["type"] == "missing" else err["msg"]
            reason = reason.removeprefix("Value error, ")
            problems.append(f"{setting_name(settings_cls, loc[0])} {reason}" if loc else reason)
        _fail("; ".join(problems))
