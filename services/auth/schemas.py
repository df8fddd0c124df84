"""Request and response bodies of the auth service's HTTP API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        # PostgreSQL text cannot hold U+0000: refuse it here (422), not in the database (500).
        texts = value if isinstance(value, list) else [value]
        if any(isinstance(text, str) and "\x00" in text for text in texts):
            raise ValueError("must not contain U+0000")
        return value


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - a token type
    expires_in: int


class LoginRequest(Body):
    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=1, max_length=1024)


class LoginResponse(BaseModel):
    status: Literal["mfa_required", "mfa_enrolment_required"]
    # mfa_required: present `mfa_token` with a code to POST /v1/auth/login/mfa.
    mfa_token: str | None = None
    # mfa_enrolment_required: a token good only for enrolling a second factor.
    access_token: str | None = None
    token_type: Literal["Bearer"] | None = None
    expires_in: int | None = None


class MfaLoginRequest(Body):
    mfa_token: str = Field(min_length=1, max_length=200)
    code: str | None = Field(default=None, pattern=r"^\s*\d{6}\s*$")
    recovery_code: str | None = Field(default=None, max_length=64)


class TotpEnrolment(BaseModel):
    secret: str
    otpauth_uri: str


class TotpConfirm(Body):
    code: str = Field(pattern=r"^\s*\d{6}\s*$")


class TotpConfirmed(TokenResponse):
    recovery_codes: list[str]


class Me(BaseModel):
    subject: str
    kind: str
    tenant_id: str | None
    roles: list[str]
    scopes: list[str]
    amr: list[str]


class TenantCreate(Body):
    name: str = Field(min_length=1, max_length=200)


class TenantOut(BaseModel):
    id: uuid.UUID
    name: str


class ClientCreate(Body):
    name: str = Field(min_length=1, max_length=200)
    roles: list[str] = Field(min_length=1)


class ClientCredentials(BaseModel):
    client_id: str
    client_secret: str
    name: str
    roles: list[str]


class ClientOut(BaseModel):
    client_id: str
    name: str
    roles: list[str]
    created_at: datetime
    secret_rotated_at: datetime | None


class RolesUpdate(Body):
    roles: list[str] = Field(min_length=1)


class UserCreate(Body):
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=320)
    name: str = Field(min_length=1, max_length=200)
    roles: list[str] = Field(min_length=1)
    password: str = Field(min_length=1, max_length=1024)


class UserOut(BaseModel):
    id: uuid.UUID
    email: str
    name: str
    roles: list[str]
    mfa_enrolled: bool


class ConnectionCreate(Body):
    vrn: str = Field(min_length=1, max_length=20)


class ConnectionStarted(BaseModel):
    id: uuid.UUID
    vrn: str
    authorize_url: str
    status: str
    state_expires_at: datetime


class ConnectionOut(BaseModel):
    id: uuid.UUID
    vrn: str
    status: Literal["pending", "active", "expiring_soon", "needs_reauthorisation", "revoked"]
    scopes: list[str]
    granted_at: datetime | None
    grant_expires_at: datetime | None
    granted_by: str | None
    revoked_at: datetime | None
    last_error: str | None


class HmrcTokenRequest(Body):
    tenant_id: uuid.UUID
    vrn: str = Field(pattern=r"^\d{9}$")


class HmrcTokenOut(BaseModel):
    connection_id: uuid.UUID
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - a token type
    expires_at: datetime
    scopes: list[str]


class MultiFactor(BaseModel):
    type: str
    timestamp: str
    unique_reference: str


class FraudFacts(BaseModel):
    user_id_hash: str
    multi_factor: list[MultiFactor]
    headers: dict[str, str | None]


class BreakGlassRequest(Body):
    tenant_id: uuid.UUID
    reason: str = Field(min_length=10, max_length=2000, description="why access is needed")
    duration_minutes: int = Field(ge=1, description="at most the platform's limit (8 h)")


class BreakGlassGrantOut(BaseModel):
    id: uuid.UUID
    tenant_id: uuid.UUID
    requested_by: str
    reason: str
    duration_minutes: int
    status: Literal["pending", "approved", "denied", "revoked", "expired"]  # expired: derived
    requested_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    expires_at: datetime | None
    revoked_by: str | None
    revoked_at: datetime | None


class BreakGlassUseOut(BaseModel):
    service: str
    method: str
    path: str
    request_id: str | None
    # None when served; else the code it was refused with (e.g. BREAK_GLASS_READ_ONLY).
    refusal: str | None
    used_at: datetime


class BreakGlassToken(TokenResponse):
    grant_id: uuid.UUID
    tenant_id: uuid.UUID
    grant_expires_at: datetime


class BreakGlassUseIn(Body):
    """A service reports one request made with a break-glass token."""

    service: str = Field(min_length=1, max_length=80)
    method: str = Field(min_length=3, max_length=10)
    path: str = Field(min_length=1, max_length=2000)
    request_id: str | None = Field(default=None, max_length=128)
    refused: bool = False
