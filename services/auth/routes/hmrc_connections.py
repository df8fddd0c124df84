"""`/v1/connections`: connect a VRN to HMRC, see and revoke connections. The callback is
where HMRC sends the user's browser back, so it answers a browser with a page."""

from __future__ import annotations

import html
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse

from services.auth import connections
from services.auth.connections import CallbackError
from services.auth.context import AuthContext, get_context
from services.auth.rbac import Action, authorize
from services.auth.schemas import ConnectionCreate, ConnectionOut, ConnectionStarted
from services.common import jsonutil
from services.common.errors import ProblemError, problem_response
from services.common.security.jwt_verify import Principal, authenticated

router = APIRouter(prefix="/v1/connections", tags=["hmrc connections"])
Ctx = Annotated[AuthContext, Depends(get_context)]
Caller = Annotated[Principal, Depends(authenticated)]


def _tenant_of(principal: Principal, requested: uuid.UUID | None) -> uuid.UUID:
    if principal.is_platform:
        if requested is None:
            raise ProblemError(422, "TENANT_REQUIRED", "Give ?tenant_id= to look into a tenant.")
        return requested
    assert principal.tenant_id is not None
    own = uuid.UUID(principal.tenant_id)
    if requested is not None and requested != own:
        raise ProblemError(403, "FORBIDDEN", "You may act only within your own tenant.")
    return own


@router.post("", response_model=ConnectionStarted, status_code=201)
async def start_connection(
    body: ConnectionCreate, request: Request, principal: Caller, ctx: Ctx
) -> Any:
    """Send the taxpayer's browser to `authorize_url`; HMRC returns it to the callback."""
    authorize(principal, Action.CONNECTION_CREATE)
    started = await connections.start(ctx, principal, body.vrn.strip(), str(request.base_url))
    return ConnectionStarted(
        id=started.connection.id,
        vrn=started.connection.vrn,
        authorize_url=started.authorize_url,
        status=connections.view(ctx, started.connection)["status"],
        state_expires_at=started.state_expires_at,
    )


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


def _page(title: str, message: str, outcome: str, status: int) -> HTMLResponse:
    body = (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{html.escape(title)}</title></head><body>"
        f'<main data-outcome="{html.escape(outcome)}"><h1>{html.escape(title)}</h1>'
        f'<p id="message">{html.escape(message)}</p></main></body></html>'
    )
    return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


@router.get("/callback", summary="Where HMRC redirects after sign-in and consent")
async def callback(
    request: Request,
    ctx: Ctx,
    state: Annotated[str | None, Query(max_length=200)] = None,
    code: Annotated[str | None, Query(max_length=2000)] = None,
    error: Annotated[str | None, Query(max_length=200)] = None,
    error_description: Annotated[str | None, Query(max_length=2000)] = None,
) -> Response:
    try:
        connection = await connections.complete(
            ctx, state=state, code=code, error=error, error_description=error_description
        )
    except CallbackError as exc:
        if _wants_html(request):
            title = (
                "Access was not granted"
                if exc.code == "HMRC_CONSENT_DENIED"
                else "The HMRC connection was not made"
            )
            return _page(title, exc.detail, exc.code, exc.status)
        return problem_response(exc.status, exc.code, exc.detail, instance=request.url.path)
    out = connections.view(ctx, connection)
    if _wants_html(request):
        return _page(
            "Connected to HMRC",
            f"VRN {connection.vrn} is connected; status: {out['status']}. "
            f"The grant lasts until {connection.grant_expires_at:%d %B %Y}.",
            out["status"],
            200,
        )
    return JSONResponse(jsonutil.loads(jsonutil.dumps(out)))


@router.get("", response_model=list[ConnectionOut])
async def list_connections(principal: Caller, ctx: Ctx, tenant_id: uuid.UUID | None = None) -> Any:
    tenant = _tenant_of(principal, tenant_id)
    authorize(principal, Action.CONNECTION_READ, tenant)
    return await connections.list_connections(ctx, tenant)


@router.delete("/{connection_id}", status_code=204)
async def revoke_connection(
    connection_id: uuid.UUID, principal: Caller, ctx: Ctx, tenant_id: uuid.UUID | None = None
) -> Response:
    authorize(principal, Action.CONNECTION_REVOKE)
    tenant = _tenant_of(principal, tenant_id)
    await connections.revoke(ctx, principal, tenant, connection_id)
    return Response(status_code=204)
