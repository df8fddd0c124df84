"""The internal API (role platform_service): obligations, submit and view a return,
liabilities, payments, fraud prevention header checks, and the gateway's status.

Device data comes as `Gov-Client-*` / `Gov-Vendor-*` request headers, or (on POSTs) as the
JSON object `device` (see `device_data.DeviceData`). The connection the device's request
came in on is `connection` (POSTs) or this request's own peer and `Forwarded` /
`X-Forwarded-For` headers, read through the trusted proxies.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse

from services.common.errors import ProblemError, problem_response
from services.common.security.jwt_verify import Principal, authenticated, forbidden
from services.hmrc_gateway import hmrc_client as hc
from services.hmrc_gateway.core import Gateway, parse_device
from services.hmrc_gateway.exchange import CallContext, SubmitOutcome
from services.hmrc_gateway.fraud_headers import ConnectionFacts
from services.hmrc_gateway.governor import READ, Priority
from services.hmrc_gateway.hmrc_json import to_plain
from services.hmrc_gateway.schemas import (
    PERIOD_KEY,
    VRN,
    Connection,
    SubmitReturn,
    ValidateHeaders,
    ViewReturn,
)

router = APIRouter(prefix="/internal/v1", tags=["internal"])
TEST_SCENARIO = "Gov-Test-Scenario"


def gateway_of(request: Request) -> Gateway:
    gw: Gateway = request.app.state.gateway
    return gw


async def service_caller(request: Request) -> Principal:
    principal = await authenticated(request)
    role = gateway_of(request).settings.service_role
    if role not in principal.roles:
        raise forbidden(f"This needs the role {role}.")
    return principal


Caller = Annotated[Principal, Depends(service_caller)]
Vrn = Annotated[str, Path(pattern=VRN)]
# Tenant and user ids are auth's UUIDs: auth refuses anything else (which would surface
# here as auth being unavailable), and a user id ends up in the fraud-facts URL's path.
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
Tenant = Annotated[str, Query(pattern=UUID_PATTERN)]
UserId = Annotated[str | None, Query(pattern=UUID_PATTERN)]


def facts_from(request: Request, connection: Connection | None) -> ConnectionFacts:
    if connection is not None:
        return ConnectionFacts(
            received_at=connection.received_at or datetime.now(UTC),
            peer_ip=connection.peer_ip,
            peer_port=connection.peer_port,
            forwarded=connection.forwarded,
            x_forwarded_for=connection.x_forwarded_for,
        )
    peer = request.client
    return ConnectionFacts(
        received_at=datetime.now(UTC),
        peer_ip=peer.host if peer else None,
        peer_port=peer.port if peer else None,
        forwarded=request.headers.get("forwarded"),
        x_forwarded_for=request.headers.get("x-forwarded-for"),
    )


def passthrough(request: Request) -> dict[str, str]:
    scenario = request.headers.get(TEST_SCENARIO)
    return {TEST_SCENARIO: scenario} if scenario else {}


async def _read(
    request: Request,
    endpoint: hc.Endpoint,
    tenant_id: str,
    vrn: str,
    path: str,
    params: dict[str, str],
    user_id: str | None,
    priority: Priority = READ,
    device_json: dict[str, Any] | None = None,
    connection: Connection | None = None,
) -> Any:
    gw = gateway_of(request)
    device = parse_device(device_json, request.headers)
    prepared = await gw.prepare_headers(
        device,
        tenant_id=tenant_id,
        vrn=vrn,
        user_id=user_id,
        facts=facts_from(request, connection),
    )
    hmrc_request = hc.HmrcRequest(
        endpoint, path, params, headers={**prepared.headers, **passthrough(request)}
    )
    ctx = CallContext(tenant_id, vrn, priority, fraud=prepared.validation)
    response = await gw.calls().get(hmrc_request, ctx)
    return JSONResponse(
        to_plain(response.body),
        headers={"X-CorrelationId": response.correlation_id or ""},
    )


def _params(**values: str | None) -> dict[str, str]:
    return {k: v for k, v in values.items() if v is not None}


@router.get("/vat/{vrn}/obligations", summary="VAT obligations from HMRC")
async def obligations(
    request: Request,
    _: Caller,
    vrn: Vrn,
    tenant_id: Tenant,
    from_: Annotated[str | None, Query(alias="from")] = None,
    to: str | None = None,
    status: str | None = None,
    user_id: UserId = None,
) -> Any:
    params = _params(**{"from": from_, "to": to, "status": status})
    return await _read(
        request, hc.OBLIGATIONS, tenant_id, vrn, hc.vat_path(vrn, "obligations"), params, user_id
    )


@router.get("/vat/{vrn}/returns/{period_key}", summary="View a submitted VAT return")
async def view_return(
    request: Request,
    _: Caller,
    vrn: Vrn,
    period_key: Annotated[str, Path(pattern=PERIOD_KEY)],
    tenant_id: Tenant,
    user_id: UserId = None,
) -> Any:
    path = hc.vat_path(vrn, "returns", period_key)
    return await _read(request, hc.VIEW_RETURN, tenant_id, vrn, path, {}, user_id)


@router.post(
    "/vat/{vrn}/returns/{period_key}/view",
    summary="View a submitted VAT return for a background caller (device data in the body)",
)
async def view_return_for(
    request: Request,
    _: Caller,
    vrn: Vrn,
    period_key: Annotated[str, Path(pattern=PERIOD_KEY)],
    body: ViewReturn,
) -> Any:
    # The submission worker reconciles on behalf of the user who submitted: the same device
    # data and connection facts, which a GET could only carry as headers.
    path = hc.vat_path(vrn, "returns", period_key)
    return await _read(
        request,
        hc.VIEW_RETURN,
        str(body.tenant_id),
        vrn,
        path,
        {},
        str(body.user_id) if body.user_id else None,
        device_json=body.device,
        connection=body.connection,
    )


@router.get("/vat/{vrn}/liabilities", summary="VAT liabilities from HMRC")
async def liabilities(
    request: Request,
    _: Caller,
    vrn: Vrn,
    tenant_id: Tenant,
    from_: Annotated[str, Query(alias="from")],
    to: str,
    user_id: UserId = None,
) -> Any:
    path = hc.vat_path(vrn, "liabilities")
    params = {"from": from_, "to": to}
    return await _read(request, hc.LIABILITIES, tenant_id, vrn, path, params, user_id)


@router.get("/vat/{vrn}/payments", summary="VAT payments from HMRC")
async def payments(
    request: Request,
    _: Caller,
    vrn: Vrn,
    tenant_id: Tenant,
    from_: Annotated[str, Query(alias="from")],
    to: str,
    user_id: UserId = None,
) -> Any:
    path = hc.vat_path(vrn, "payments")
    params = {"from": from_, "to": to}
    return await _read(request, hc.PAYMENTS, tenant_id, vrn, path, params, user_id)


def _answer(outcome: SubmitOutcome) -> JSONResponse:
    response = outcome.response
    if outcome.outcome == "accepted" and response is not None:
        return JSONResponse(
            {
                "outcome": "accepted",
                "receipt": to_plain(response.body),
                "receipt_headers": response.receipt,
                "correlation_id": response.correlation_id,
            },
            status_code=201,
        )
    extra: dict[str, Any] = {
        "outcome": outcome.outcome,
        "sent": outcome.sent,
        "retryable": outcome.retryable,
    }
    if response is not None and response.correlation_id:
        extra["correlation_id"] = response.correlation_id
    headers = None
    if outcome.retry_after is not None:
        headers = {"Retry-After": str(max(1, round(outcome.retry_after)))}
    if outcome.outcome == "uncertain":
        return problem_response(
            502 if outcome.reason != "HMRC_TIMEOUT" else 504,
            "SUBMISSION_OUTCOME_UNCERTAIN",
            "HMRC may or may not have received the return; check (view return) before "
            "sending it again.",
            reason=outcome.reason,
            **extra,
        )
    if outcome.error is not None:
        return problem_response(
            outcome.error.status,
            outcome.error.code,
            outcome.error.message,
            headers=headers,
            **{**outcome.error.problem_extra(), **extra},
        )
    code = outcome.reason or "HMRC_UNAVAILABLE"
    return problem_response(
        503, code, "The return was not sent to HMRC; try again later.", headers=headers, **extra
    )


@router.post("/vat/{vrn}/returns", summary="Submit a VAT return (never retried here)")
async def submit_return(request: Request, _: Caller, vrn: Vrn, body: SubmitReturn) -> Any:
    gw = gateway_of(request)
    tenant_id = str(body.tenant_id)
    device = parse_device(body.device, request.headers)
    prepared = await gw.prepare_headers(
        device,
        tenant_id=tenant_id,
        vrn=vrn,
        user_id=str(body.user_id) if body.user_id else None,
        facts=facts_from(request, body.connection),
    )
    vat_return = body.vat_return.model_dump()
    due = datetime.combine(body.due_date, time.min, UTC) if body.due_date else None
    hmrc_request = hc.HmrcRequest(
        hc.SUBMIT_RETURN,
        hc.vat_path(vrn, "returns"),
        body=vat_return,
        headers={**prepared.headers, **passthrough(request)},
    )
    ctx = CallContext(
        tenant_id,
        vrn,
        Priority(body.priority_class, due),
        period_key=body.vat_return.periodKey,
        submission_id=body.submission_id,
        fraud=prepared.validation,
    )
    return _answer(await gw.calls().submit(hmrc_request, ctx))


@router.post("/fraud-headers/validate", summary="Build and check fraud prevention headers")
async def validate_headers(request: Request, _: Caller, body: ValidateHeaders) -> Any:
    gw = gateway_of(request)
    tenant_id = str(body.tenant_id)
    device = parse_device(body.device, request.headers)
    prepared = await gw.prepare_headers(
        device,
        tenant_id=tenant_id,
        vrn=body.vrn,
        user_id=str(body.user_id) if body.user_id else None,
        facts=facts_from(request, body.connection),
        enforce_mode=False,
    )
    answer: dict[str, Any] = {
        "connection_method": prepared.connection_method,
        "headers": prepared.headers,
        "validation": prepared.validation.as_json(),
        "hmrc": None,
    }
    if body.ask_hmrc:
        if not gw.settings.fraud_header_feedback:
            raise ProblemError(
                409,
                "HMRC_VALIDATION_DISABLED",
                "Asking HMRC's validator is only enabled against HMRC's sandbox.",
            )
        hmrc_request = hc.HmrcRequest(
            hc.FRAUD_VALIDATE, "/test/fraud-prevention-headers/validate", headers=prepared.headers
        )
        ctx = CallContext(tenant_id, body.vrn, READ, fraud=prepared.validation)
        response = await gw.calls().get(hmrc_request, ctx)
        feedback = to_plain(response.body)
        answer["hmrc"] = feedback
        await gw.record_check(
            tenant_id,
            body.vrn,
            prepared.connection_method,
            "hmrc",
            hmrc_result(feedback),
            sent=True,
        )
    return answer


def hmrc_result(feedback: Any) -> Any:
    from services.hmrc_gateway.fraud_validation import ValidationResult

    doc = feedback if isinstance(feedback, dict) else {}
    return ValidationResult.of(list(doc.get("errors", [])), list(doc.get("warnings", [])))


@router.get("/status", summary="Circuit breakers and the rate governor")
async def status(request: Request, _: Caller) -> Any:
    gw = gateway_of(request)
    answer = gw.status()
    answer["governor"]["queue_depth"] = await gw.governor.queue_depth()
    return answer
