"""Internal endpoints for the HMRC gateway (role platform_service); not on the public
ingress. They hand out HMRC access tokens and the facts behind fraud prevention headers."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends

from services.auth import connections, fraud, users
from services.auth.context import AuthContext, get_context
from services.auth.rbac import Action, authorize
from services.auth.schemas import FraudFacts, HmrcTokenOut, HmrcTokenRequest
from services.common.security.jwt_verify import Principal, authenticated

router = APIRouter(prefix="/internal/v1", tags=["internal"])
Ctx = Annotated[AuthContext, Depends(get_context)]
Caller = Annotated[Principal, Depends(authenticated)]


@router.post("/hmrc/access-token", response_model=HmrcTokenOut)
async def hmrc_access_token(body: HmrcTokenRequest, principal: Caller, ctx: Ctx) -> Any:
    """A valid HMRC access token for (tenant, VRN), refreshed first when it is about to
    expire. 409 `HMRC_REAUTHORISATION_REQUIRED` says a user must reconnect the VRN."""
    authorize(principal, Action.HMRC_TOKEN_ISSUE)
    token = await connections.access_token(ctx, body.tenant_id, body.vrn)
    return HmrcTokenOut(
        connection_id=token.connection_id,
        access_token=token.access_token,
        expires_at=token.expires_at,
        scopes=token.scopes,
    )


@router.get("/users/{user_id}/fraud-facts", response_model=FraudFacts)
async def fraud_facts(user_id: uuid.UUID, principal: Caller, ctx: Ctx) -> Any:
    """`Gov-Client-Multi-Factor` and `Gov-Client-User-IDs` for the user behind a request."""
    authorize(principal, Action.FRAUD_FACTS_READ)
    user = await users.get_user(ctx, user_id, None)
    return fraud.facts(
        ctx.keys.identifiers,
        user.id,
        mfa_method=user.last_mfa_method,
        mfa_at=user.last_mfa_at,
        enrolled_at=user.totp_enrolled_at,
    )
