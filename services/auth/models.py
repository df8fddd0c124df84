"""The auth service's tables. Secrets are stored only as argon2 or SHA-256 hashes, or
envelope-encrypted (HMRC tokens, PKCE verifiers, TOTP seeds); so is personal data (users'
e-mail and name), with a keyed hash of the e-mail to find a user by it
(services/auth/sealed.py lists every sealed column)."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.messaging.tables import inbox, outbox


class AuthBase(DeclarativeBase):
    pass


# The messaging tables live in the same database; register them so Alembic sees them.
outbox.to_metadata(AuthBase.metadata)
inbox.to_metadata(AuthBase.metadata)

TZ = sa.DateTime(timezone=True)


def _now() -> sa.TextClause:
    return sa.text("now()")


class Tenant(AuthBase):
    __tablename__ = "tenants"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    name: Mapped[str] = mapped_column(sa.Text, unique=True)
    created_at: Mapped[datetime] = mapped_column(TZ, server_default=_now())


class ApiClient(AuthBase):
    """An OAuth2 client-credentials client. `tenant_id` is NULL for platform clients."""

    __tablename__ = "api_clients"

    id: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), sa.ForeignKey("tenants.id"), index=True
    )
    name: Mapped[str] = mapped_column(sa.Text)
    roles: Mapped[list[str]] = mapped_column(ARRAY(sa.Text))
    secret_hash: Mapped[str] = mapped_column(sa.Text)
    # After a rotation the old secret keeps working until `previous_secret_expires_at`.
    previous_secret_hash: Mapped[str | None] = mapped_column(sa.Text)
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(TZ)
    secret_rotated_at: Mapped[datetime | None] = mapped_column(TZ)
    disabled: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.false())
    created_at: Mapped[datetime] = mapped_column(TZ, server_default=_now())


class User(AuthBase):
    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), sa.ForeignKey("tenants.id"), index=True
    )
    # HMAC-SHA256 of the normalised e-mail (`<salt version>.<hex>`), for sign-in lookups;
    # the e-mail and name themselves only sealed.
    email_hash: Mapped[str] = mapped_column(sa.Text, unique=True)
    email_enc: Mapped[str] = mapped_column(sa.Text)
    name_enc: Mapped[str] = mapped_column(sa.Text)
    roles: Mapped[list[str]] = mapped_column(ARRAY(sa.Text))
    password_hash: Mapped[str] = mapped_column(sa.Text)
    # Envelope-encrypted TOTP seed; `totp_enrolled_at` is set once a code has confirmed it.
    totp_secret_enc: Mapped[str | None] = mapped_column(sa.Text)
    totp_enrolled_at: Mapped[datetime | None] = mapped_column(TZ)
    # The last accepted TOTP time step: a code is never accepted twice.
    totp_last_step: Mapped[int | None] = mapped_column(sa.BigInteger)
    # The user's latest second-factor sign-in, for `Gov-Client-Multi-Factor`.
    last_mfa_at: Mapped[datetime | None] = mapped_column(TZ)
    last_mfa_method: Mapped[str | None] = mapped_column(sa.Text)
    disabled: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.false())
    created_at: Mapped[datetime] = mapped_column(TZ, server_default=_now())


class RecoveryCode(AuthBase):
    __tablename__ = "recovery_codes"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), sa.ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(sa.Text)
    used_at: Mapped[datetime | None] = mapped_column(TZ)


class LoginChallenge(AuthBase):
    """Password accepted, second factor pending. Looked up by the SHA-256 of its token."""

    __tablename__ = "login_challenges"

    token_hash: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), sa.ForeignKey("users.id", ondelete="CASCADE")
    )
    expires_at: Mapped[datetime] = mapped_column(TZ)
    used_at: Mapped[datetime | None] = mapped_column(TZ)


class FailedAttempts(AuthBase):
    """Brute-force protection: wrong secrets per identity (`kind:identifier`)."""

    __tablename__ = "failed_attempts"

    key: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    failures: Mapped[int] = mapped_column(sa.Integer, server_default="0")
    window_started_at: Mapped[datetime] = mapped_column(TZ, server_default=_now())
    lockouts: Mapped[int] = mapped_column(sa.Integer, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(TZ)


class HmrcConnection(AuthBase):
    """One tenant's HMRC grant for one VRN."""

    __tablename__ = "hmrc_connections"
    __table_args__ = (
        sa.Index(
            "uq_hmrc_connections_live",
            "tenant_id",
            "vrn",
            unique=True,
            postgresql_where=sa.text("status <> 'revoked'"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), sa.ForeignKey("tenants.id"))
    vrn: Mapped[str] = mapped_column(sa.Text)
    # pending | active | needs_reauthorisation | revoked
    status: Mapped[str] = mapped_column(sa.Text)
    created_by: Mapped[str] = mapped_column(sa.Text)
    granted_by: Mapped[str | None] = mapped_column(sa.Text)
    scopes: Mapped[list[str]] = mapped_column(ARRAY(sa.Text), server_default="{}")
    access_token_enc: Mapped[str | None] = mapped_column(sa.Text)
    refresh_token_enc: Mapped[str | None] = mapped_column(sa.Text)
    access_expires_at: Mapped[datetime | None] = mapped_column(TZ)
    granted_at: Mapped[datetime | None] = mapped_column(TZ)
    grant_expires_at: Mapped[datetime | None] = mapped_column(TZ)
    refreshed_at: Mapped[datetime | None] = mapped_column(TZ)
    refresh_count: Mapped[int] = mapped_column(sa.Integer, server_default="0")
    revoked_at: Mapped[datetime | None] = mapped_column(TZ)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(TZ, server_default=_now())
    updated_at: Mapped[datetime] = mapped_column(TZ, server_default=_now())


class OAuthState(AuthBase):
    """A pending authorization request: single use, short-lived, bound to tenant and user."""

    __tablename__ = "oauth_states"

    state_hash: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    connection_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), sa.ForeignKey("hmrc_connections.id", ondelete="CASCADE")
    )
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    subject: Mapped[str] = mapped_column(sa.Text)
    code_verifier_enc: Mapped[str] = mapped_column(sa.Text)
    redirect_uri: Mapped[str] = mapped_column(sa.Text)
    expires_at: Mapped[datetime] = mapped_column(TZ)
    used_at: Mapped[datetime | None] = mapped_column(TZ)
    created_at: Mapped[datetime] = mapped_column(TZ, server_default=_now())


class BreakGlassGrant(AuthBase):
    """A support user's request to read one tenant's data, and the tenant admin's decision.

    status: pending | approved | denied | revoked (an approved grant past `expires_at` is
    expired; that is derived, not stored)."""

    __tablename__ = "break_glass_grants"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), sa.ForeignKey("tenants.id"), index=True
    )
    requested_by: Mapped[str] = mapped_column(sa.Text, index=True)
    reason: Mapped[str] = mapped_column(sa.Text)
    duration_seconds: Mapped[int] = mapped_column(sa.Integer)
    status: Mapped[str] = mapped_column(sa.Text)
    requested_at: Mapped[datetime] = mapped_column(TZ, server_default=_now())
    decided_by: Mapped[str | None] = mapped_column(sa.Text)
    decided_at: Mapped[datetime | None] = mapped_column(TZ)
    expires_at: Mapped[datetime | None] = mapped_column(TZ)
    revoked_by: Mapped[str | None] = mapped_column(sa.Text)
    revoked_at: Mapped[datetime | None] = mapped_column(TZ)


class BreakGlassUse(AuthBase):
    """One request made with a break-glass token, in any service."""

    __tablename__ = "break_glass_uses"
    __table_args__ = (sa.Index("ix_break_glass_uses_grant_used_at", "grant_id", "used_at"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    grant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), sa.ForeignKey("break_glass_grants.id")
    )
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), sa.ForeignKey("tenants.id"))
    used_by: Mapped[str] = mapped_column(sa.Text)
    service: Mapped[str] = mapped_column(sa.Text)
    method: Mapped[str] = mapped_column(sa.Text)
    path: Mapped[str] = mapped_column(sa.Text)
    request_id: Mapped[str | None] = mapped_column(sa.Text)
    # None when served; else the problem code it was refused with (a write under read-only
    # access, or an attempt after the grant ended).
    refusal: Mapped[str | None] = mapped_column(sa.Text)
    used_at: Mapped[datetime] = mapped_column(TZ, server_default=_now())


__all__ = [
    "ApiClient",
    "AuthBase",
    "BreakGlassGrant",
    "BreakGlassUse",
    "FailedAttempts",
    "HmrcConnection",
    "LoginChallenge",
    "OAuthState",
    "RecoveryCode",
    "Tenant",
    "User",
]
