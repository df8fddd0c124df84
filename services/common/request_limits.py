"""Abuse limits on the public API: a cap on request bodies, and a per-client request rate.

Bodies: a `Content-Length` above the cap is refused before anything is read; a chunked body
is counted as it arrives and refused the moment it passes the cap. Either way the answer is
413 `PAYLOAD_TOO_LARGE` as a problem document, never a half-read request reaching a handler.

Rate: a token bucket per API client (the verified token's subject), `rate` requests a second
with bursts of `burst`, answered 429 `RATE_LIMITED` with `Retry-After`. Buckets live in each
replica, so a deployment of n replicas allows up to n times the rate; the limit is there to
stop one runaway client from starving the others, not to meter usage. Platform services
calling each other are not limited.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common.errors import ProblemError, problem_response


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            response = problem_response(
                413, "PAYLOAD_TOO_LARGE", self._detail(), instance=scope.get("path")
            )
            await response(scope, receive, send)
            return
        seen = 0

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    # Raised where the handler reads its body; the error handlers answer it.
                    raise HTTPException(413, self._detail())
            return message

        await self.app(scope, counting_receive, send)

    def _detail(self) -> str:
        return f"The request body is larger than {self.max_bytes} bytes."


@dataclass
class _Bucket:
    tokens: float
    at: float = field(default_factory=time.monotonic)


class ClientRateLimiter:
    """Token buckets per client; `check` raises ProblemError 429 when one is empty."""

    def __init__(self, rate: float, burst: int, max_clients: int = 100_000) -> None:
        self.rate = rate
        self.burst = burst
        self.max_clients = max_clients
        self._buckets: dict[str, _Bucket] = {}

    def check(self, client: str) -> None:
        now = time.monotonic()
        bucket = self._buckets.get(client)
        if bucket is None:
            if len(self._buckets) >= self.max_clients:
                self._forget_full(now)
            bucket = self._buckets[client] = _Bucket(tokens=float(self.burst), at=now)
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.at) * self.rate)
        bucket.at = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return
        wait = math.ceil((1 - bucket.tokens) / self.rate)
        raise ProblemError(
            429,
            "RATE_LIMITED",
            f"Too many requests from this client: at most {self.rate:g} a second "
            f"(bursts of {self.burst}). Try again after the Retry-After seconds.",
            headers={"Retry-After": str(max(1, wait))},
        )

    def _forget_full(self, now: float) -> None:
        # Buckets that have refilled carry no state worth keeping.
        full = [
            k for k, b in self._buckets.items() if b.tokens + (now - b.at) * self.rate >= self.burst
        ]
        for key in full or list(self._buckets)[: len(self._buckets) // 2]:
            del self._buckets[key]
