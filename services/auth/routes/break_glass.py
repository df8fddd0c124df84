"""`/v1/break-glass`: support staff ask for time-bound, read-only access to a tenant; its
admins approve, deny, revoke and see every use. `/internal/v1/break-glass/uses` is where
the other services check and record each request made with a break-glass token."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from services.auth import break_glass, tenants
from services.auth.context import AuthContext, get_context
from services.auth.models import BreakGlassGrant
from services.auth.rbac import Action, authorize
from services.auth.schemas import (
    BreakGlassGrantOut,
    BreakGlassRequest,
    BreakGlassToken,
    BreakGlassUseIn,
    BreakGlassUseOut,
)
from services.common.errors import ProblemError
from services.common.security.break_glass import Use
from services.common.security.jwt_verify import (
    Principal,
    TokenVerifier,
    authenticated,
    bearer_token,
)

router = APIRouter(prefix="/v1/break-glass", tags=["break-glass"])
internal_router = APIRouter(prefix="/internal/v1/break-glass", tags=["internal"])
Ctx = Annotated[AuthContext, Depends(get_context)]
Caller = Annotated[Principal, Depends(authenticated)]


def _out(grant: BreakGlassGrant) -> BreakGlassGrantOut:
    return BreakGlassGrantOut(
        id=grant.id,
        tenant_id=grant.tenant_id,
        requested_by=grant.requested_by,
        reason=grant.reason,
        duration_minutes=grant.duration_seconds // 60,
        status=break_glass.status_of(grant),
        requested_at=grant.requested_at,
        decided_by=grant.decided_by,
        decided_at=grant.decided_at,
        expires_at=grant.expires_at,
        revoked_by=grant.revoked_by,
        revoked_at=grant.revoked_at,
    )


@router.post("/grants", response_model=BreakGlassGrantOut, status_code=201)
async def request_access(
    body: BreakGlassRequest, principal: Caller, ctx: Ctx
) -> BreakGlassGrantOut:
    """A support user (signed in with MFA) asks to read one tenant; a tenant admin decides."""
    authorize(principal, Action.BREAK_GLASS_REQUEST)
    await tenants.require_tenant(ctx.db, body.tenant_id)
    grant = await break_glass.request(
        ctx, principal, body.tenant_id, body.reason, body.duration_minutes
    )
    return _out(grant)


@router.get("/grants", response_model=list[BreakGlassGrantOut])
async def list_grants(
    principal: Caller, ctx: Ctx, tenant_id: uuid.UUID | None = None
) -> list[BreakGlassGrantOut]:
    """The tenant's grants (admins, auditors) or the caller's own requests (support)."""
    authorize(principal, Action.BREAK_GLASS_READ, tenant_id)
    return [_out(g) for g in await break_glass.list_grants(ctx, principal, tenant_id)]


@router.get("/grants/{grant_id}", response_model=BreakGlassGrantOut)
async def get_grant(grant_id: uuid.UUID, principal: Caller, ctx: Ctx) -> BreakGlassGrantOut:
    authorize(principal, Action.BREAK_GLASS_READ)
    return _out(await break_glass.get_grant(ctx, principal, grant_id))


@router.get("/grants/{grant_id}/uses", response_model=list[BreakGlassUseOut])
async def list_uses(grant_id: uuid.UUID, principal: Caller, ctx: Ctx) -> list[BreakGlassUseOut]:
    """Every request made under the grant, in any service, oldest first."""
    authorize(principal, Action.BREAK_GLASS_READ)
    return [
        BreakGlassUseOut(
            service=u.service,
            method=u.method,
            path=u.path,
            request_id=u.request_id,
            refusal=u.refusal,
            used_at=u.used_at,
        )
        for u in await break_glass.list_uses(ctx, principal, grant_id)
    ]


@router.post("/grants/{grant_id}/approve", response_model=BreakGlassGrantOut)
async def approve(grant_id: uuid.UUID, principal: Caller, ctx: Ctx) -> BreakGlassGrantOut:
    """A tenant admin, signed in with MFA, approves; the access ends after its duration."""
    authorize(principal, Action.BREAK_GLASS_DECIDE)
    return _out(await break_glass.decide(ctx, principal, grant_id, approve=True))


@router.post("/grants/{grant_id}/deny", response_model=BreakGlassGrantOut)
async def deny(grant_id: uuid.UUID, principal: Caller, ctx: Ctx) -> BreakGlassGrantOut:
    authorize(principal, Action.BREAK_GLASS_DECIDE)
    return _out(await break_glass.decide(ctx, principal, grant_id, approve=False))


@router.post("/grants/{grant_id}/revoke", response_model=BreakGlassGrantOut)
async def revoke(grant_id: uuid.UUID, principal: Caller, ctx: Ctx) -> BreakGlassGrantOut:
    """Ends the access now: tokens already issued are refused at their next request."""
    authorize(principal, Action.BREAK_GLASS_DECIDE)
    return _out(await break_glass.revoke(ctx, principal, grant_id))


@router.post("/grants/{grant_id}/token", response_model=BreakGlassToken)
async def token(grant_id: uuid.UUID, principal: Caller, ctx: Ctx) -> BreakGlassToken:
    """A short-lived, read-only token for the grant's tenant, for the user who asked."""
    authorize(principal, Action.BREAK_GLASS_REQUEST)
    issued = await break_glass.issue_token(ctx, principal, grant_id)
    assert issued.grant.expires_at is not None
    return BreakGlassToken(
        access_token=issued.access_token,
        expires_in=issued.expires_in,
        grant_id=issued.grant.id,
        tenant_id=issued.grant.tenant_id,
        grant_expires_at=issued.grant.expires_at,
    )


@internal_router.post("/uses", status_code=204, response_class=Response)
async def record_use(body: BreakGlassUseIn, request: Request, ctx: Ctx) -> Response:
    """A service checks a break-glass token's grant and records the request it came with;
    the token itself is the credential. 403 BREAK_GLASS_EXPIRED / _REVOKED /
    _NOT_APPROVED: refuse the request."""
    # Verified here, not through `authenticated`, which would record this call as a use.
    verifier: TokenVerifier = request.app.state.token_verifier
    principal = await verifier.verify(bearer_token(request))
    if principal.grant_id is None:
        raise ProblemError(403, "FORBIDDEN", "Only break-glass tokens are recorded here.")
    use = Use(body.service, body.method.upper(), body.path, body.request_id, body.refused)
    await break_glass.record_use(ctx, principal, use)
    return Response(status_code=204)
