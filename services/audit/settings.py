"""Settings of the audit service; environment variables start with `AUDIT_`."""

from __future__ import annotations

import base64
import binascii

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from services.common.envelope import Envelope, parse_keyring
from services.common.settings import ServiceSettings


def decode_key(value: str) -> bytes:
    try:
        key = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("must be base64") from None
    if len(key) != 32:
        raise ValueError("must be 32 bytes, base64-encoded")
    return key


class AuditSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="AUDIT_")

    # Access tokens: the auth service's JWKS, issuer and audience.

    # The non-owner role every transaction switches to (INSERT/SELECT only on the log).
    # Empty means "use the login role as it is" (when the login role already is that role).
    db_role: str = Field(default="mtd_audit_app", pattern=r"^([a-z_][a-z0-9_]{0,62})?$")

    # Key-encryption key(s) that wrap the per-subject data keys: one key (base64, 32 bytes)
    # or a ring `kid:base64key,…` like auth's; `key_encryption_key_current` (default: the
    # first) wraps new keys, all unwrap (rotation: docs/security.md).
    key_encryption_key: SecretStr | None = None
    key_encryption_key_current: str | None = None

    # Ingest: one durable pull consumer; appends are batched in one transaction each.
    ingest_durable: str = "audit-ingest"
    ingest_batch_size: int = Field(default=500, ge=1, le=5000)
    ingest_max_deliver: int = Field(default=10, ge=2)
    ingest_ack_wait_s: float = Field(default=30.0, gt=0)
    ingest_retry_delay_s: float = Field(default=1.0, gt=0)
    lag_sample_interval_s: float = Field(default=5.0, gt=0)

    # Retention per record class, in days. VAT records (returns, receipts, the submission
    # exchanges and state changes) are kept six years; raw HMRC bodies much less.
    retention_vat_record_days: int = Field(default=6 * 366, ge=1)
    retention_hmrc_exchange_days: int = Field(default=2 * 366, ge=1)
    retention_privileged_action_days: int = Field(default=3 * 366, ge=1)
    retention_raw_body_days: int = Field(default=90, ge=1)
    retention_interval_s: float = Field(default=3600.0, gt=0)

    # Page sizes and the chunk `verify` reads at a time.
    max_page_size: int = Field(default=500, ge=1)
    verify_chunk: int = Field(default=5000, ge=100)

    @model_validator(mode="after")
    def _required(self) -> AuditSettings:
        # No key ships with the code, not even for development: the local stack generates
        # one and keeps it with its data (.local/stack.json).
        if self.key_encryption_key is None:
            raise ValueError("AUDIT_KEY_ENCRYPTION_KEY is required (32 random bytes, base64)")
        if self.environment == "development":
            return self
        if self.auth_url is None:
            raise ValueError("AUDIT_AUTH_URL is required outside development")
        return self

    @model_validator(mode="after")
    def _key_is_well_formed(self) -> AuditSettings:
        if self.key_encryption_key is not None:
            try:
                self.keyring()
            except ValueError as exc:
                raise ValueError(f"AUDIT_KEY_ENCRYPTION_KEY {exc}") from None
        return self

    def keyring(self) -> Envelope:
        """The KEK ring; a single bare key is the ring `k0`."""
        assert self.key_encryption_key is not None  # checked at load
        spec = self.key_encryption_key.get_secret_value().strip()
        keys = parse_keyring(spec) if ":" in spec else [("k0", decode_key(spec))]
        return Envelope(keys, self.key_encryption_key_current or None)

    def retention_days(self) -> dict[str, int]:
        return {
            "vat_record": self.retention_vat_record_days,
            "hmrc_exchange": self.retention_hmrc_exchange_days,
            "privileged_action": self.retention_privileged_action_days,
        }
