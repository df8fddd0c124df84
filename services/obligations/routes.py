"""Public API: obligations, liabilities, payments of one VRN, and what is due soon across the
tenant's VRNs. Every endpoint needs scope vat:read and a VRN connected in the caller's own
tenant. `Cache-Control: no-cache` asks for HMRC's current answer."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from services.common.security.jwt_verify import Principal, bearer_token, require_scopes
from services.obligations import params
from services.obligations.gateway_client import forwarded_headers
from services.obligations.reads import Caller, Read, Reads

router = APIRouter(tags=["obligations"])
Reader = Annotated[Principal, Depends(require_scopes("vat:read"))]


def reads_of(request: Request) -> Reads:
    reads: Reads = request.app.state.reads
    return reads


def caller_of(request: Request, principal: Principal) -> Caller:
    peer = (request.client.host, request.client.port) if request.client else None
    return Caller(principal, bearer_token(request), forwarded_headers(request.headers, peer))


def wants_refresh(request: Request) -> bool:
    directives = request.headers.get("cache-control", "").lower()
    return "no-cache" in directives or "max-age=0" in directives


def respond(read: Read) -> JSONResponse:
    return JSONResponse(read.json(), headers=read.headers())


@router.get("/v1/vat/{vrn}/obligations", summary="VAT obligations, cached, with freshness")
async def obligations(
    request: Request,
    principal: Reader,
    vrn: str,
    from_: Annotated[str | None, Query(alias="from")] = None,
    to: str | None = None,
    status: str | None = None,
) -> Any:
    query = params.obligations_query(from_, to, status)
    read = await reads_of(request).obligations(
        caller_of(request, principal),
        params.check_vrn(vrn),
        query,
        force=wants_refresh(request),
    )
    return respond(read)


async def _financial(
    request: Request, principal: Principal, vrn: str, kind: str, from_: str | None, to: str | None
) -> Any:
    checked = params.financial_query(from_, to, datetime.now(UTC).date())
    read = await reads_of(request).financial(
        caller_of(request, principal),
        params.check_vrn(vrn),
        kind,
        checked,
        force=wants_refresh(request),
    )
    return respond(read)


@router.get("/v1/vat/{vrn}/liabilities", summary="VAT liabilities, cached, with freshness")
async def liabilities(
    request: Request,
    principal: Reader,
    vrn: str,
    from_: Annotated[str | None, Query(alias="from")] = None,
    to: str | None = None,
) -> Any:
    return await _financial(request, principal, vrn, "liabilities", from_, to)


@router.get("/v1/vat/{vrn}/payments", summary="VAT payments, cached, with freshness")
async def payments(
    request: Request,
    principal: Reader,
    vrn: str,
    from_: Annotated[str | None, Query(alias="from")] = None,
    to: str | None = None,
) -> Any:
    return await _financial(request, principal, vrn, "payments", from_, to)


@router.get("/v1/obligations/due", summary="Open obligations across the tenant's VRNs")
async def due(
    request: Request,
    principal: Reader,
    within: Annotated[int, Query(ge=0, le=366, description="days from today")] = 30,
) -> Any:
    answer = await reads_of(request).due(
        caller_of(request, principal),
        within,
        datetime.now(UTC).date(),
        force=wants_refresh(request),
    )
    return JSONResponse(answer, headers={"Cache-Control": "private, no-store"})
