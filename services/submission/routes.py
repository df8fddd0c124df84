"""The public API for returns: accept fast (202 + status URL), then report progress."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, Header, Path, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError

from services.common import hmrc_validation, jsonutil
from services.common.errors import ProblemError
from services.common.hmrc_errors import HmrcError, Rejected
from services.common.security.jwt_verify import Principal, authenticated, require_scopes
from services.submission import ledger, queue
from services.submission.models import Submission
from services.submission.states import State

router = APIRouter(tags=["returns"])
Vrn = Annotated[str, Path(pattern=r"^\d{9}$", description="VAT registration number")]
Submitter = Annotated[Principal, Depends(require_scopes("vat:submit"))]
Reader = Annotated[Principal, Depends(require_scopes("vat:read"))]
# The user's device data, and the proxy hops that say where the user connected from.
DEVICE_PREFIXES = ("gov-client-", "gov-test-scenario", "forwarded", "x-forwarded-for")


def tenant_of(principal: Principal) -> str:
    if not principal.tenant_id:
        raise ProblemError(
            403, "TENANT_REQUIRED", "Returns are filed by a tenant's client or user."
        )
    return principal.tenant_id


def hmrc_problem(error: HmrcError) -> ProblemError:
    """HMRC's validation answer as a problem document with HMRC's codes and JSON paths."""
    body = error.body or {}
    code, message = str(body.get("code", "INVALID_REQUEST")), str(body.get("message", ""))
    errors = list(body.get("errors", []))
    if code == "BUSINESS_ERROR" and len(errors) == 1:
        # HMRC wraps a single business rule; the rule's own code is what clients act on.
        code, message = str(errors[0]["code"]), str(errors[0].get("message", message))
    return ProblemError(error.status, code, message or "The return is not valid.", errors=errors)


def client_context(request: Request, principal: Principal) -> dict[str, Any]:
    """What the gateway needs later for the fraud prevention headers of this user's call."""
    peer = request.client
    return {
        "headers": {k: v for k, v in request.headers.items() if k.startswith(DEVICE_PREFIXES)},
        "connection": {
            "peer_ip": peer.host if peer else None,
            "peer_port": peer.port if peer else None,
            "forwarded": request.headers.get("forwarded"),
            "x_forwarded_for": request.headers.get("x-forwarded-for"),
            "received_at": datetime.now(UTC).isoformat(),
        },
        "user_id": principal.subject if principal.kind == "user" else None,
    }


def status_url(submission: Submission) -> str:
    return f"/v1/vat/{submission.vrn}/returns/{submission.id}"


def accepted(submission: Submission) -> JSONResponse:
    url = status_url(submission)
    return JSONResponse(
        {
            "id": str(submission.id),
            "status": submission.state,
            "periodKey": submission.period_key,
            "dueDate": submission.due_date.isoformat(),
            "statusUrl": url,
        },
        status_code=202,
        headers={"Location": url},
    )


async def read_return(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = jsonutil.loads(raw)
    except ValueError:
        raise ProblemError(400, "INVALID_JSON", "The body is not valid JSON.") from None
    try:
        fields = hmrc_validation.return_body(body)
    except Rejected as rejected:
        raise hmrc_problem(rejected.error) from None
    return {name: fields[name] for name in hmrc_validation.FIELDS}


@router.post(
    "/v1/vat/{vrn}/returns",
    status_code=202,
    summary="Submit a VAT return (accepted for submission; poll the status URL)",
)
async def submit(
    request: Request,
    vrn: Vrn,
    principal: Submitter,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> JSONResponse:
    tenant = tenant_of(principal)
    if not idempotency_key or not 1 <= len(idempotency_key) <= 255:
        raise ProblemError(
            400,
            "IDEMPOTENCY_KEY_REQUIRED",
            "Send an Idempotency-Key header (1-255 characters) so a retry cannot file twice.",
        )
    vat_return = await read_return(request)
    fingerprint = ledger.request_hash(vrn, vat_return)
    db = request.app.state.runtime.database()
    async with db.sessions() as session:
        earlier = await ledger.find_by_idempotency_key(session, tenant, idempotency_key)
        if earlier is not None:
            return same_request(earlier, fingerprint)
        await refuse_second_return(session, tenant, vrn, vat_return["periodKey"])
    due = await request.app.state.obligations.due_date(
        vrn,
        vat_return["periodKey"],
        request.headers.get("authorization", ""),
        client_context(request, principal)["headers"],
    )
    if due is None:
        raise ProblemError(
            422,
            "PERIOD_NOT_OPEN",
            f"VRN {vrn} has no open obligation with period key {vat_return['periodKey']}.",
            action="List the open obligations and use one of their period keys.",
        )
    try:
        async with db.transaction() as session:
            created = await ledger.create(
                session,
                tenant_id=tenant,
                vrn=vrn,
                due_date=due,
                idempotency_key=idempotency_key,
                vat_return=vat_return,
                client_context=client_context(request, principal),
            )
    except IntegrityError:
        # A concurrent request won the race for this key or this period.
        async with db.sessions() as session:
            earlier = await ledger.find_by_idempotency_key(session, tenant, idempotency_key)
            if earlier is not None:
                return same_request(earlier, fingerprint)
            await refuse_second_return(session, tenant, vrn, vat_return["periodKey"])
        raise
    request.app.state.runtime.relay.wake()
    return accepted(created)


def same_request(earlier: Submission, fingerprint: str) -> JSONResponse:
    if earlier.request_hash != fingerprint:
        raise ProblemError(
            422,
            "IDEMPOTENCY_KEY_REUSED",
            "This Idempotency-Key was used for a different request; use a new key.",
            submission=status_url(earlier),
        )
    return accepted(earlier)


async def refuse_second_return(session: Any, tenant: str, vrn: str, period_key: str) -> None:
    live = await ledger.find_live_for_period(session, vrn, period_key)
    if live is None:
        return
    # Another tenant's return is not this caller's to see; say only that one exists.
    raise ProblemError(
        409,
        "RETURN_EXISTS_FOR_PERIOD",
        f"A return for VRN {vrn} period {period_key} is already {live.state}; HMRC accepts one.",
        submission=status_url(live) if live.tenant_id == tenant else None,
    )


PeriodKey = Annotated[str, Path(pattern=r"^[A-Z0-9#]{4}$", description="HMRC period key")]


@router.get(
    "/v1/vat/{vrn}/returns/by-period/{period_key}",
    summary="The return HMRC holds for a period (View VAT Return)",
)
async def view_at_hmrc(
    request: Request, vrn: Vrn, period_key: PeriodKey, principal: Reader
) -> JSONResponse:
    """Asks HMRC, not the platform's records: it also shows returns filed elsewhere. HMRC's
    refusals (404 NOT_FOUND, a period not yet submitted, …) come back as problem documents
    with HMRC's code. A `#` in the period key is sent as `%23`."""
    try:
        response = await request.app.state.hmrc.view_response(
            tenant_of(principal), vrn, period_key, client_context(request, principal)
        )
    except httpx.HTTPError as exc:
        raise ProblemError(
            503,
            "GATEWAY_UNAVAILABLE",
            f"HMRC could not be asked right now ({type(exc).__name__}); try again shortly.",
            headers={"Retry-After": "5"},
        ) from exc
    if "json" not in response.headers.get("content-type", ""):
        raise ProblemError(
            502,
            "GATEWAY_BAD_ANSWER",
            f"The HMRC gateway answered {response.status_code} without a JSON body.",
            headers={"Retry-After": "5"},
        )
    passed = {
        k: v
        for k, v in response.headers.items()
        if k.lower() in ("content-type", "retry-after", "x-correlationid")
    }
    return JSONResponse(response.json(), status_code=response.status_code, headers=passed)


@router.get("/v1/vat/{vrn}/returns/{submission_id}", summary="A return's status and receipt")
async def status(
    request: Request, vrn: Vrn, submission_id: uuid.UUID, principal: Reader
) -> dict[str, Any]:
    tenant = tenant_of(principal)
    settings = request.app.state.runtime.settings
    async with request.app.state.runtime.database().sessions() as session:
        found = await ledger.get(session, tenant, vrn, submission_id)
        if found is None:
            raise ProblemError(404, "SUBMISSION_NOT_FOUND", "No such return for this VRN.")
        history = await ledger.history(session, found.id)
        position = (
            await queue.position(session, found, settings.hmrc_rate_per_second)
            if found.state == State.QUEUED
            else None
        )
    return {
        "id": str(found.id),
        "vrn": found.vrn,
        "periodKey": found.period_key,
        "dueDate": found.due_date.isoformat(),
        "status": found.state,
        "createdAt": found.created_at.isoformat(),
        "updatedAt": found.updated_at.isoformat(),
        "history": [
            {"from": t.from_state, "to": t.to_state, "at": t.at.isoformat(), "reason": t.reason}
            for t in history
        ],
        "receipt": found.receipt,
        "error": (
            {"code": found.error_code, "message": found.error_message} if found.error_code else None
        ),
        "queue": (
            {"ahead": position.ahead, "estimatedSubmissionAt": position.estimated_at.isoformat()}
            if position
            else None
        ),
    }


@router.get("/v1/status", summary="HMRC reachability, breaker states and the queue's delay")
async def platform_status(
    request: Request, _: Annotated[Principal, Depends(authenticated)]
) -> dict[str, Any]:
    """For client applications' degraded-mode banners: answers even when HMRC is down."""
    settings = request.app.state.runtime.settings
    try:
        gateway = await request.app.state.hmrc.status()
    except ProblemError:
        gateway = None  # auth is down: the gateway's view is unknown, the queue is not
    async with request.app.state.runtime.database().sessions() as session:
        depth, oldest = await queue.backlog(session)
    breakers = (gateway or {}).get("breakers", {})
    open_groups = sorted(g for g, b in breakers.items() if b.get("state") != "closed")
    degraded = gateway is None or bool(open_groups)
    return {
        "status": "degraded" if degraded else "ok",
        "hmrc": {
            "gatewayReachable": gateway is not None,
            "breakers": {g: b.get("state") for g, b in breakers.items()},
            "failingEndpointGroups": open_groups,
        },
        "queue": {
            "waiting": depth,
            "oldestWaitingSeconds": round(oldest, 1),
            "estimatedDelaySeconds": round(depth / settings.hmrc_rate_per_second, 1),
        },
    }
