"""`/v1/auth/*`: client credentials, user sign-in with a second factor, MFA enrolment, JWKS."""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request, Response

from services.auth import clients, mfa, users
from services.auth.context import AuthContext, get_context
from services.auth.schemas import (
    LoginRequest,
    LoginResponse,
    Me,
    MfaLoginRequest,
    TokenResponse,
    TotpConfirm,
    TotpConfirmed,
    TotpEnrolment,
)
from services.common.errors import ProblemError
from services.common.security.jwt_verify import Principal, authenticated

router = APIRouter(prefix="/v1/auth", tags=["auth"])
Ctx = Annotated[AuthContext, Depends(get_context)]
Caller = Annotated[Principal, Depends(authenticated)]


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        client_id, sep, secret = base64.b64decode(value).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (client_id, secret) if sep else None


@router.post("/token", response_model=TokenResponse, summary="OAuth2 client credentials")
async def token(
    request: Request,
    ctx: Ctx,
    grant_type: Annotated[str, Form()],
    client_id: Annotated[str | None, Form(max_length=200)] = None,
    client_secret: Annotated[str | None, Form(max_length=1024)] = None,
) -> TokenResponse:
    if grant_type != "client_credentials":
        raise ProblemError(
            400,
            "UNSUPPORTED_GRANT_TYPE",
            "Only grant_type=client_credentials is supported.",
            error="unsupported_grant_type",
        )
    if client_id is None or client_secret is None:
        basic = _basic_credentials(request)
        if basic is None:
            raise ProblemError(
                401, "INVALID_CLIENT", "Give client_id and client_secret.", error="invalid_client"
            )
        client_id, client_secret = basic
    client = await clients.authenticate(ctx, client_id, client_secret)
    access_token = ctx.issuer.issue(
        subject=client.id, kind="client", tenant_id=client.tenant_id, roles=list(client.roles)
    )
    return TokenResponse(access_token=access_token, expires_in=ctx.issuer.ttl)


@router.post("/login", response_model=LoginResponse, response_model_exclude_none=True)
async def login(body: LoginRequest, ctx: Ctx) -> LoginResponse:
    """Password first. Enrolled users get an `mfa_token` for the second step; others get a
    token that only allows enrolling an authenticator."""
    user = await users.check_password(ctx, body.email, body.password)
    if user.totp_enrolled_at is None:
        return LoginResponse(
            status="mfa_enrolment_required",
            access_token=users.enrolment_token(ctx, user),
            token_type="Bearer",  # noqa: S106 - a token type
            expires_in=ctx.issuer.ttl,
        )
    return LoginResponse(status="mfa_required", mfa_token=await mfa.new_challenge(ctx, user))


@router.post("/login/mfa", response_model=TokenResponse, summary="Second sign-in step")
async def login_mfa(body: MfaLoginRequest, ctx: Ctx) -> TokenResponse:
    user, method = await mfa.verify_challenge(
        ctx, body.mfa_token, code=body.code, recovery_code=body.recovery_code
    )
    assert user.last_mfa_at is not None
    access_token = users.session_token(ctx, user, method, user.last_mfa_at)
    return TokenResponse(access_token=access_token, expires_in=ctx.issuer.ttl)


def _user_id(principal: Principal) -> uuid.UUID:
    if principal.kind != "user":
        raise ProblemError(403, "FORBIDDEN", "Only users enrol a second factor.")
    return uuid.UUID(principal.subject)


@router.post("/mfa/totp", response_model=TotpEnrolment, status_code=201)
async def start_totp(principal: Caller, ctx: Ctx) -> TotpEnrolment:
    """Begin enrolling an authenticator app; the secret is shown this once."""
    enrolment = await mfa.start_enrolment(ctx, _user_id(principal))
    return TotpEnrolment(secret=enrolment.secret, otpauth_uri=enrolment.otpauth_uri)


@router.post("/mfa/totp/verify", response_model=TotpConfirmed)
async def confirm_totp(body: TotpConfirm, principal: Caller, ctx: Ctx) -> TotpConfirmed:
    """The first code confirms the authenticator; recovery codes are shown this once."""
    user, codes = await mfa.confirm_enrolment(ctx, principal, _user_id(principal), body.code)
    access_token = users.session_token(ctx, user, "totp", user.last_mfa_at or datetime.now(UTC))
    return TotpConfirmed(access_token=access_token, expires_in=ctx.issuer.ttl, recovery_codes=codes)


@router.get("/me", response_model=Me)
async def me(principal: Caller) -> Me:
    return Me(
        subject=principal.subject,
        kind=principal.kind,
        tenant_id=principal.tenant_id,
        roles=sorted(principal.roles),
        scopes=sorted(principal.scopes),
        amr=list(principal.amr),
    )


@router.get("/jwks.json", summary="Public keys that verify access tokens")
async def jwks(ctx: Ctx, response: Response) -> dict[str, Any]:
    # Short enough that a rotation reaches caches well within a token's lifetime.
    response.headers["Cache-Control"] = "public, max-age=300"
    return ctx.keys.signing.jwks()
