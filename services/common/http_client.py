"""Outbound HTTP: timeouts on every call, retries only where a repeat is safe, trace propagation.

A POST that timed out may have landed; only the caller can decide what to do next, so
non-idempotent methods are never retried here.
"""

from __future__ import annotations

import httpx
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from services.common import telemetry

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRYABLE_STATUS = frozenset({502, 503, 504})
DEFAULT_TIMEOUT = httpx.Timeout(connect=2.0, read=10.0, write=10.0, pool=2.0)


class _RetryableStatus(Exception):
    pass


class RetryingTransport(httpx.AsyncBaseTransport):
    """Retries idempotent requests on connection errors, read timeouts and 502/503/504."""

    def __init__(self, inner: httpx.AsyncBaseTransport, attempts: int = 3) -> None:
        self.inner = inner
        self.attempts = attempts

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method not in IDEMPOTENT_METHODS:
            return await self.inner.handle_async_request(request)
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.attempts),
            wait=wait_exponential(multiplier=0.1, max=2.0) + wait_random(0, 0.1),
            retry=retry_if_exception_type(
                (httpx.ConnectError, httpx.ReadTimeout, httpx.RemoteProtocolError, _RetryableStatus)
            ),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                response = await self.inner.handle_async_request(request)
                last = attempt.retry_state.attempt_number >= self.attempts
                if response.status_code in RETRYABLE_STATUS and not last:
                    await response.aclose()
                    raise _RetryableStatus(response.status_code)
                return response
        raise AssertionError("unreachable")  # pragma: no cover

    async def aclose(self) -> None:
        await self.inner.aclose()


def make_client(
    base_url: str,
    *,
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    retries: int = 3,
    headers: dict[str, str] | None = None,
) -> httpx.AsyncClient:
    transport = RetryingTransport(httpx.AsyncHTTPTransport(), attempts=retries)
    client = httpx.AsyncClient(
        base_url=base_url, timeout=timeout, transport=transport, headers=headers
    )
    # Once tracing is set up every transport is traced; instrumenting the client as well
    # would nest a second client span around each call.
    if not telemetry.httpx_traced_globally():
        HTTPXClientInstrumentor().instrument_client(client)
    return client
