"""Settings of the auth service; environment variables start with `AUTH_`.

Key material (token signing key, the key-encryption keys for HMRC tokens, the salts for
hashed user ids) comes from the environment or from files in `MTD_SECRETS_DIR`. In
development the service may generate it once into `dev_secrets_dir`; anywhere else it
refuses to start without it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from services.common.settings import ServiceSettings

# OWASP's argon2id baseline; tests may lower it, production may not.
ARGON2_MIN_TIME_COST = 2
ARGON2_MIN_MEMORY_KIB = 19 * 1024


def _required_outside_development(value: Any, info: ValidationInfo) -> Any:
    if value is None and info.data.get("environment") != "development":
        raise ValueError("is required outside development")
    return value


class AuthSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="AUTH_")

    # The platform's application credentials at HMRC, used for the OAuth code exchange.
    hmrc_base_url: str
    hmrc_client_id: str
    hmrc_client_secret: SecretStr
    # HMRC serves the consent page from another host than its API; defaults to the API host.
    hmrc_authorize_url: str | None = None
    hmrc_scopes: str = "read:vat write:vat"
    # Where HMRC sends the browser back; defaults to this service's own address.
    public_url: str | None = None

    # Token issuing.
    issuer: str = "mtd-vat-auth"
    audience: str = "mtd-vat"
    access_token_ttl_seconds: int = Field(default=900, ge=60, le=86400)
    # PEM Ed25519 (or RSA) private keys: the current one signs, the previous one stays in the
    # JWKS until every token it signed has expired.
    signing_key: SecretStr | None = Field(default=None, validate_default=True)
    previous_signing_key: SecretStr | None = None
    # A key published in the JWKS before it signs (step one of a rotation, docs/security.md).
    next_signing_key: SecretStr | None = None

    # Key-encryption keys for every envelope-encrypted column (HMRC tokens, PKCE verifiers,
    # TOTP seeds, users' e-mail and name): `kid:base64(32 bytes)` entries, comma separated;
    # `encryption_key_current` (default: the first) encrypts, all decrypt.
    encryption_keys: SecretStr | None = Field(default=None, validate_default=True)
    encryption_key_current: str | None = None
    # Salts for hashed user ids (`Gov-Client-User-IDs`) and MFA references: `version:salt`
    # entries, newest first; older versions stay verifiable.
    user_id_salts: SecretStr | None = Field(default=None, validate_default=True)
    # How often the rotating key material above is read again from its source.
    key_reload_seconds: float = Field(default=10.0, gt=0)
    # Development only: where generated key material is kept between restarts (beside the
    # local stack's other state).
    dev_secrets_dir: Path = Field(
        default_factory=lambda: Path(os.environ.get("MTD_LOCAL_DIR", ".local")) / "auth"
    )

    # The platform-admin API client created on start in development (the local stack's
    # BOOTSTRAP_CLIENT_ID / BOOTSTRAP_CLIENT_SECRET); elsewhere only when explicitly allowed.
    bootstrap_client_id: str | None = None
    bootstrap_client_secret: SecretStr | None = None
    bootstrap_outside_development: bool = False
    # The platform's own services' API clients (role platform_service), created on start:
    # `client_id:secret` pairs separated by commas, e.g. the gateway, obligations, submission.
    service_clients: SecretStr | None = None

    # Password and secret hashing (argon2id).
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_cost_kib: int = Field(default=64 * 1024, ge=8)
    argon2_parallelism: int = Field(default=1, ge=1)

    # Brute-force protection: after `max_failures` wrong secrets for one identity within
    # `failure_window_seconds`, checks are refused for `lockout_seconds` (doubling per repeat).
    max_failures: int = Field(default=5, ge=1)
    failure_window_seconds: int = Field(default=900, ge=1)
    lockout_seconds: int = Field(default=300, ge=1)

    # HMRC connections.
    oauth_state_ttl_seconds: int = Field(default=600, ge=30)
    # Refresh an HMRC access token this long before it expires.
    refresh_margin_seconds: int = Field(default=120, ge=0)
    # A grant this close to its 18-month end shows as "expiring_soon".
    expiring_soon_days: int = Field(default=30, ge=1)
    # A rotated client secret keeps working this long, so callers can switch over.
    client_secret_grace_seconds: int = Field(default=3600, ge=0)

    # Break-glass access (services/auth/break_glass.py): the longest a tenant admin can grant,
    # and the life of each token issued under a grant (never past the grant's end).
    break_glass_max_seconds: int = Field(default=8 * 3600, ge=60, le=86400)
    break_glass_token_ttl_seconds: int = Field(default=300, ge=30, le=3600)

    _check_signing_key = field_validator("signing_key")(_required_outside_development)
    _check_encryption_keys = field_validator("encryption_keys")(_required_outside_development)
    _check_user_id_salts = field_validator("user_id_salts")(_required_outside_development)

    @field_validator(
        "previous_signing_key", "next_signing_key", "encryption_key_current", mode="before"
    )
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        # An emptied Secret key (how an operator drops the previous or next key) means none.
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        return None if isinstance(text, str) and not text.strip() else value

    @field_validator("signing_key", "previous_signing_key", "next_signing_key")
    @classmethod
    def _parse_signing_key(cls, value: SecretStr | None) -> SecretStr | None:
        from services.auth.signing import load_signing_key

        if value is not None:
            try:
                load_signing_key(value.get_secret_value())
            except (ValueError, TypeError) as exc:
                raise ValueError(f"is not a usable PEM private key ({exc})") from None
        return value

    @field_validator("encryption_keys")
    @classmethod
    def _parse_encryption_keys(cls, value: SecretStr | None) -> SecretStr | None:
        from services.common.envelope import parse_keyring

        if value is not None:
            parse_keyring(value.get_secret_value())
        return value

    @model_validator(mode="after")
    def _current_kek_is_configured(self) -> AuthSettings:
        from services.common.envelope import parse_keyring

        if self.encryption_key_current and self.encryption_keys is not None:
            kids = dict(parse_keyring(self.encryption_keys.get_secret_value()))
            if self.encryption_key_current not in kids:
                raise ValueError("AUTH_ENCRYPTION_KEY_CURRENT names a key not in the keyring")
        return self

    @field_validator("user_id_salts")
    @classmethod
    def _parse_salts(cls, value: SecretStr | None) -> SecretStr | None:
        from services.auth.hashing import parse_salts

        if value is not None:
            parse_salts(value.get_secret_value())
        return value

    @field_validator("argon2_memory_cost_kib", "argon2_time_cost")
    @classmethod
    def _strong_hashing_in_production(cls, value: int, info: ValidationInfo) -> int:
        if info.data.get("environment") == "production":
            floor = (
                ARGON2_MIN_TIME_COST
                if info.field_name == "argon2_time_cost"
                else ARGON2_MIN_MEMORY_KIB
            )
            if value < floor:
                raise ValueError(f"must be at least {floor} in production")
        return value

    def callback_url(self, request_base_url: str) -> str:
        """HMRC's redirect target: `public_url` behind an ingress, else the address the
        caller used to reach this service (right for the local stack)."""
        base = self.public_url or request_base_url
        return base.rstrip("/") + "/v1/connections/callback"

    def authorize_url(self) -> str:
        return self.hmrc_authorize_url or self.hmrc_base_url.rstrip("/") + "/oauth/authorize"

    def service_client_secrets(self) -> dict[str, str]:
        """`service_clients` as {client_id: secret}."""
        if self.service_clients is None:
            return {}
        pairs = {}
        for item in self.service_clients.get_secret_value().split(","):
            client_id, sep, secret = item.strip().partition(":")
            if not sep or not client_id or not secret:
                raise ValueError("AUTH_SERVICE_CLIENTS must be client_id:secret pairs")
            pairs[client_id] = secret
        return pairs
