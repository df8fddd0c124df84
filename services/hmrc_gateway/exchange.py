"""Calling HMRC safely: circuit breaker, a rate slot from the governor, the bearer token
(one refresh on 401 INVALID_CREDENTIALS), the audit record of every exchange, retries for
GETs only, and for a submitted return an outcome that says what is known:

- accepted: HMRC answered 2xx (with its receipt);
- rejected: HMRC answered 4xx with a code, or the request provably never left (the breaker
  was open, no connection could be made, HMRC throttled it) — `retryable` says which;
- uncertain: a time-out, a 5xx or a reset after the request was sent. The return may have
  landed; the caller must look (view return) before sending it again.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from prometheus_client import Counter, Histogram

from services.common.errors import ProblemError
from services.common.hmrc_error_map import MappedError, hmrc_code
from services.common.logging import get_logger
from services.hmrc_gateway.auth_client import TokenSource
from services.hmrc_gateway.breaker import BreakerOpen, Breakers
from services.hmrc_gateway.exchange_audit import Exchange, ExchangeAudit
from services.hmrc_gateway.fraud_validation import ValidationResult
from services.hmrc_gateway.governor import Governor, GovernorTimeout, Priority
from services.hmrc_gateway.hmrc_client import (
    HmrcClient,
    HmrcRequest,
    HmrcResponse,
    TransportFailure,
)
from services.hmrc_gateway.retry import RETRYABLE_STATUS, delay_before_retry, parse_retry_after

log = get_logger(__name__)

HMRC_REQUESTS = Counter(
    "hmrc_gateway_hmrc_requests",
    "Requests sent to HMRC, by endpoint and status (or transport failure).",
    ["endpoint", "status"],
)
HMRC_DURATION = Histogram(
    "hmrc_gateway_hmrc_request_duration_seconds",
    "Time HMRC took to answer.",
    ["endpoint"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
)


@dataclass
class CallContext:
    tenant_id: str
    vrn: str
    priority: Priority
    period_key: str | None = None
    submission_id: str | None = None
    fraud: ValidationResult | None = None


@dataclass
class SubmitOutcome:
    outcome: Literal["accepted", "rejected", "uncertain"]
    response: HmrcResponse | None = None
    error: MappedError | None = None
    sent: bool = True
    retryable: bool = False
    retry_after: float | None = None
    reason: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Policy:
    get_attempts: int
    backoff_base: float
    backoff_max: float
    throttle_pause: float
    wait_timeout: float


def breaker_problem(exc: BreakerOpen) -> ProblemError:
    seconds = max(1, round(exc.retry_after))
    return ProblemError(
        503,
        "HMRC_CIRCUIT_OPEN",
        f"HMRC's {exc.group} endpoints are failing; calls are paused for a while.",
        headers={"Retry-After": str(seconds)},
        retryable=True,
        retry_after=seconds,
    )


def queue_problem() -> ProblemError:
    return ProblemError(
        503,
        "HMRC_QUEUE_TIMEOUT",
        "The call waited too long for a slot within HMRC's rate limit.",
        headers={"Retry-After": "5"},
        retryable=True,
    )


def mapped_problem(error: MappedError, response: HmrcResponse) -> ProblemError:
    headers = {}
    if error.retryable:
        after = parse_retry_after(response.headers.get("retry-after"))
        headers["Retry-After"] = str(max(1, round(after))) if after is not None else "1"
    extra = error.problem_extra()
    if response.correlation_id:
        extra["correlation_id"] = response.correlation_id
    return ProblemError(error.status, error.code, error.message, headers=headers or None, **extra)


class Exchanger:
    def __init__(
        self,
        client: HmrcClient,
        governor: Governor,
        breakers: Breakers,
        tokens: TokenSource,
        audit: ExchangeAudit | None,
        policy: Policy,
    ) -> None:
        self.client = client
        self.governor = governor
        self.breakers = breakers
        self.tokens = tokens
        self.audit = audit
        self.policy = policy

    async def _record(self, exchange: Exchange) -> None:
        if self.audit is None:
            return
        try:
            await self.audit.record(exchange)
        except Exception as exc:  # the exchange happened; losing its outcome would be worse
            log.error("audit record of an HMRC exchange failed", exc_info=exc)

    async def _attempt(
        self, request: HmrcRequest, ctx: CallContext, token: str, attempt: int
    ) -> HmrcResponse:
        """One exchange: a breaker check, a rate slot, the request, its audit record."""
        endpoint = request.endpoint
        breaker = self.breakers[endpoint.group]
        breaker.before_call()
        try:
            await self.governor.acquire(ctx.priority, self.policy.wait_timeout)
        except GovernorTimeout:
            breaker.release()
            raise
        except BaseException:
            breaker.release()
            raise
        started = datetime.now(UTC)
        exchange = Exchange(
            tenant_id=ctx.tenant_id,
            vrn=ctx.vrn,
            method=endpoint.method,
            endpoint=endpoint.name,
            path=request.path,
            request_headers={},
            request_body=request.body,
            started_at=started,
            duration=0.0,
            attempt=attempt,
            period_key=ctx.period_key,
            submission_id=ctx.submission_id,
            fraud=ctx.fraud,
        )
        try:
            response = await self.client.send(request, token)
        except TransportFailure as failure:
            breaker.failure()
            HMRC_REQUESTS.labels(endpoint.name, failure.kind).inc()
            exchange.request_headers = failure.request_headers
            exchange.duration = failure.duration
            exchange.error = f"{failure.kind}: {failure.detail}"
            await self._record(exchange)
            raise
        HMRC_REQUESTS.labels(endpoint.name, str(response.status)).inc()
        HMRC_DURATION.labels(endpoint.name).observe(response.duration)
        if response.status >= 500:
            breaker.failure()
        elif response.ok:
            breaker.success()
        else:
            breaker.release()
        exchange.request_headers = response.request_headers
        exchange.duration = response.duration
        exchange.status = response.status
        exchange.response_headers = response.headers
        exchange.response_body = (
            response.body if response.body is not None else (response.text or None)
        )
        exchange.correlation_id = response.correlation_id
        await self._record(exchange)
        if response.status == 429:
            after = parse_retry_after(response.headers.get("retry-after"))
            await self.governor.pause(after if after is not None else self.policy.throttle_pause)
        return response

    def _refused_token(self, response: HmrcResponse) -> bool:
        return response.status == 401 and hmrc_code(response.body) == "INVALID_CREDENTIALS"

    async def get(self, request: HmrcRequest, ctx: CallContext) -> HmrcResponse:
        """A read: retried on 429, 5xx and network errors with backoff; a 2xx answer, or
        the mapped error as a ProblemError."""
        token = await self.tokens.hmrc_token(ctx.tenant_id, ctx.vrn)
        refreshed = False
        attempt = 0
        while True:
            attempt += 1
            last = attempt >= self.policy.get_attempts
            try:
                response = await self._attempt(request, ctx, token, attempt)
            except BreakerOpen as exc:
                raise breaker_problem(exc) from None
            except GovernorTimeout:
                raise queue_problem() from None
            except TransportFailure as failure:
                if last:
                    raise ProblemError(
                        504 if failure.kind == "timeout" else 502,
                        "HMRC_TIMEOUT" if failure.kind == "timeout" else "HMRC_UNREACHABLE",
                        "HMRC did not answer.",
                        headers={"Retry-After": "5"},
                        retryable=True,
                    ) from None
                await asyncio.sleep(
                    delay_before_retry(
                        attempt, self.policy.backoff_base, self.policy.backoff_max, None
                    )
                )
                continue
            if response.ok:
                return response
            if self._refused_token(response) and not refreshed:
                refreshed = True
                token = await self.tokens.hmrc_token(ctx.tenant_id, ctx.vrn, refresh=True)
                attempt -= 1  # a fresh token is a new start, not a retry
                continue
            if response.status in RETRYABLE_STATUS and not last:
                after = parse_retry_after(response.headers.get("retry-after"))
                await asyncio.sleep(
                    delay_before_retry(
                        attempt, self.policy.backoff_base, self.policy.backoff_max, after
                    )
                )
                continue
            raise mapped_problem(response.error(request.endpoint), response)

    async def submit(self, request: HmrcRequest, ctx: CallContext) -> SubmitOutcome:
        """A POST: sent at most once when it may have reached HMRC; see the module notes."""
        token = await self.tokens.hmrc_token(ctx.tenant_id, ctx.vrn)
        refreshed = False
        while True:
            try:
                response = await self._attempt(request, ctx, token, 2 if refreshed else 1)
            except BreakerOpen as exc:
                return SubmitOutcome(
                    "rejected",
                    sent=False,
                    retryable=True,
                    retry_after=exc.retry_after,
                    reason="HMRC_CIRCUIT_OPEN",
                )
            except GovernorTimeout:
                return SubmitOutcome(
                    "rejected",
                    sent=False,
                    retryable=True,
                    retry_after=5.0,
                    reason="HMRC_QUEUE_TIMEOUT",
                )
            except TransportFailure as failure:
                if not failure.maybe_sent:
                    return SubmitOutcome(
                        "rejected", sent=False, retryable=True, reason="HMRC_UNREACHABLE"
                    )
                return SubmitOutcome("uncertain", reason=f"HMRC_{failure.kind.upper()}")
            if response.ok:
                return SubmitOutcome("accepted", response=response)
            # HMRC's platform refuses a stale token before the API sees the request.
            if self._refused_token(response) and not refreshed:
                refreshed = True
                token = await self.tokens.hmrc_token(ctx.tenant_id, ctx.vrn, refresh=True)
                continue
            error = response.error(request.endpoint)
            if response.status >= 500:
                return SubmitOutcome("uncertain", response=response, error=error, reason=error.code)
            if response.status == 429:
                # Throttled at HMRC's gateway: the API never saw it.
                after = parse_retry_after(response.headers.get("retry-after"))
                return SubmitOutcome(
                    "rejected",
                    response=response,
                    error=error,
                    sent=False,
                    retryable=True,
                    retry_after=after or 1.0,
                    reason=error.code,
                )
            return SubmitOutcome("rejected", response=response, error=error, reason=error.code)
