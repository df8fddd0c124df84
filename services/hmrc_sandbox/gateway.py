"""HMRC's API platform in front of every simulated API: what a request meets before and
after the API itself, in this order —

outage window → Accept header (406 / 404 for another version) → bearer token (401) →
rate limit per application (429) → token type and scope (401 / 403) → injected latency and
errors → the API → "accepted but the caller never heard" → counters, X-CorrelationId.
"""

from __future__ import annotations

import asyncio
import re
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response

from services.common import hmrc_errors as E
from services.common.hmrc_errors import HmrcError, Rejected
from services.common.logging import get_logger
from services.hmrc_sandbox import jsonbody
from services.hmrc_sandbox.records import Grant, TestUser, digest
from services.hmrc_sandbox.sandbox import FEEDBACK_DEPTH, Sandbox

log = get_logger(__name__)

_ACCEPT = re.compile(r"application/vnd\.hmrc\.(\d+\.\d+)\+([a-z]+)")
JSON = "application/json"


@dataclass(frozen=True)
class Endpoint:
    name: str
    scope: str | None = None  # the scope a token needs
    user_restricted: bool = False  # needs a user's token, not the application's own
    records_fraud_headers: bool = False  # kept for the validation-feedback API


@dataclass
class Call:
    """A request that passed the platform's checks, as the API sees it."""

    request: Request
    sandbox: Sandbox
    endpoint: Endpoint
    client_id: str
    grant: Grant
    user: TestUser | None
    correlation_id: str


@dataclass
class Answer:
    status: int
    body: Any = None  # None: an empty body
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Call], Awaitable[Answer]]


def respond(status: int, body: Any, headers: dict[str, str]) -> Response:
    if body is None:
        return Response(status_code=status, headers=headers)
    if isinstance(body, bytes):  # already HMRC JSON
        return Response(body, status_code=status, headers=headers, media_type=JSON)
    return Response(jsonbody.dumpb(body), status_code=status, headers=headers, media_type=JSON)


def error_response(error: HmrcError, correlation_id: str) -> Response:
    return respond(error.status, error.body, {**error.headers, "X-CorrelationId": correlation_id})


def check_accept(request: Request) -> None:
    match = _ACCEPT.search(request.headers.get("accept", ""))
    if match is None or match[2] != "json":
        raise Rejected(E.ACCEPT_HEADER_INVALID)
    if match[1] != "1.0":
        raise Rejected(E.VERSION_NOT_FOUND)


def bearer(sandbox: Sandbox, request: Request) -> Grant:
    header = request.headers.get("authorization")
    if not header:
        raise Rejected(E.MISSING_CREDENTIALS)
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Rejected(E.INVALID_CREDENTIALS)
    token = sandbox.state.tokens.get(digest(value.strip()))
    now = sandbox.clock.now()
    if token is None or token.kind != "access" or token.expires_at <= now:
        raise Rejected(E.INVALID_CREDENTIALS)
    grant = sandbox.state.grants.get(token.grant_id)
    if grant is None or grant.expires_at <= now:
        raise Rejected(E.INVALID_CREDENTIALS)
    return grant


def _remember_fraud_headers(sandbox: Sandbox, client_id: str, request: Request) -> None:
    """Keep the raw headers; they are only checked when feedback is asked for."""
    kept = sandbox.fraud_feedback.get(client_id)
    if kept is None:
        kept = sandbox.fraud_feedback[client_id] = deque(maxlen=FEEDBACK_DEPTH)
    kept.append(
        {
            "method": request.method,
            "path": request.url.path,
            "requestTimestamp": sandbox.clock.now(),
            "raw_headers": request.headers.raw,
        }
    )


async def handle(request: Request, endpoint: Endpoint, handler: Handler) -> Response:
    sandbox: Sandbox = request.app.state.sandbox
    correlation_id = sandbox.ids.uuid()
    client_id: str | None = None
    status = 500
    try:
        outage = sandbox.faults.outage_status(_wall_clock())
        if outage is not None:
            sandbox.counters.faults[(endpoint.name, "outage")] += 1
            raise Rejected(E.fault(outage))
        check_accept(request)
        grant = bearer(sandbox, request)
        client_id = grant.client_id
        if not sandbox.rate_limiter.admit(client_id, sandbox.rate_for(client_id)):
            sandbox.counters.throttled[client_id] += 1
            throttled = E.MESSAGE_THROTTLED_OUT
            if sandbox.throttle_retry_after is not None:
                throttled = throttled.with_headers(
                    **{"Retry-After": str(sandbox.throttle_retry_after)}
                )
            raise Rejected(throttled)
        user = sandbox.state.users.get(grant.user_id) if grant.user_id else None
        if endpoint.user_restricted and user is None:
            raise Rejected(E.INCORRECT_ACCESS_TOKEN_TYPE)
        if endpoint.scope is not None and endpoint.scope not in grant.scopes:
            raise Rejected(E.INVALID_SCOPE)
        if endpoint.records_fraud_headers:
            _remember_fraud_headers(sandbox, client_id, request)

        fault = sandbox.faults.for_endpoint(endpoint.name)
        if fault is not None:
            await sandbox.faults.delay(fault)
            injected = sandbox.faults.injected_error(fault)
            if injected is not None:
                sandbox.counters.faults[(endpoint.name, f"error {injected}")] += 1
                raise Rejected(E.fault(injected))

        call = Call(request, sandbox, endpoint, client_id, grant, user, correlation_id)
        answer = await handler(call)

        if fault is not None and answer.status < 300:
            unheard = sandbox.faults.after_accept(fault)
            if unheard is not None:
                sandbox.counters.faults[(endpoint.name, f"accepted then {unheard}")] += 1
                if unheard == "timeout":
                    await asyncio.sleep(fault.timeout_seconds)
                    raise Rejected(E.GATEWAY_TIMEOUT)
                raise Rejected(E.INTERNAL_SERVER_ERROR)
        status = answer.status
        return respond(
            answer.status, answer.body, {**answer.headers, "X-CorrelationId": correlation_id}
        )
    except Rejected as rejected:
        status = rejected.error.status
        return error_response(rejected.error, correlation_id)
    except Exception as exc:  # the simulator's own fault: HMRC's 500, and a loud log line
        log.error("simulator error", endpoint=endpoint.name, exc_info=exc)
        return error_response(E.INTERNAL_SERVER_ERROR, correlation_id)
    finally:
        sandbox.counters.request(endpoint.name, client_id, status)


def _wall_clock() -> datetime:
    return datetime.now(UTC)


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing one over `limit` bytes without reading it all."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise Rejected(E.PAYLOAD_TOO_LARGE)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Rejected(E.PAYLOAD_TOO_LARGE)
        chunks.append(chunk)
    return b"".join(chunks)


def json_content_type(request: Request) -> bool:
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return media in ("application/json", "text/json")


OpenHandler = Callable[[Request, Sandbox], Awaitable[Response]]


async def handle_open(request: Request, endpoint: Endpoint, handler: OpenHandler) -> Response:
    """Endpoints outside the API gateway (OAuth): no Accept or bearer checks and no rate
    limit, but the same outage, injected faults and counters."""
    sandbox: Sandbox = request.app.state.sandbox
    correlation_id = sandbox.ids.uuid()
    status = 500
    try:
        outage = sandbox.faults.outage_status(_wall_clock())
        if outage is not None:
            sandbox.counters.faults[(endpoint.name, "outage")] += 1
            raise Rejected(E.fault(outage))
        fault = sandbox.faults.for_endpoint(endpoint.name)
        if fault is not None:
            await sandbox.faults.delay(fault)
            injected = sandbox.faults.injected_error(fault)
            if injected is not None:
                sandbox.counters.faults[(endpoint.name, f"error {injected}")] += 1
                raise Rejected(E.fault(injected))
        response = await handler(request, sandbox)
        status = response.status_code
        response.headers["X-CorrelationId"] = correlation_id
        return response
    except Rejected as rejected:
        status = rejected.error.status
        return error_response(rejected.error, correlation_id)
    except Exception as exc:
        log.error("simulator error", endpoint=endpoint.name, exc_info=exc)
        return error_response(E.INTERNAL_SERVER_ERROR, correlation_id)
    finally:
        sandbox.counters.request(endpoint.name, None, status)


async def read_form(request: Request, limit: int) -> dict[str, str]:
    """A urlencoded body (first value of each field; blank values kept)."""
    raw = await read_body(request, limit)
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media != "application/x-www-form-urlencoded":
        return {}
    try:
        pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        return {}
    form: dict[str, str] = {}
    for key, value in pairs:
        form.setdefault(key, value)
    return form
