"""One HTTP exchange with HMRC's VAT API: pooled async client, a timeout per endpoint,
HMRC's Accept header, the bearer token, percent-encoded path segments (`#001` -> `%23001`),
Decimal-exact JSON, nested `errors[]`, `X-CorrelationId` and receipt headers kept.

Nothing here retries or waits for a rate slot; `exchange.py` decides that.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from services.common.hmrc_error_map import MappedError, map_error
from services.hmrc_gateway import hmrc_json

ACCEPT = "application/vnd.hmrc.1.0+json"
RECEIPT_HEADERS = ("Receipt-ID", "Receipt-Timestamp", "Receipt-Signature")


@dataclass(frozen=True)
class Endpoint:
    name: str
    method: str
    group: str  # circuit breaker group
    timeout_setting: str  # which setting bounds the read
    empty_404: str = "HMRC_NOT_FOUND"  # what a 404 without a body means here


OBLIGATIONS = Endpoint("obligations", "GET", "obligations", "read_timeout")
SUBMIT_RETURN = Endpoint("submit_return", "POST", "returns", "submit_timeout")
VIEW_RETURN = Endpoint("view_return", "GET", "returns", "read_timeout", "RETURN_NOT_FOUND")
LIABILITIES = Endpoint("liabilities", "GET", "financials", "read_timeout")
PAYMENTS = Endpoint("payments", "GET", "financials", "read_timeout")
# HMRC's Test Fraud Prevention Headers API (sandbox only).
FRAUD_VALIDATE = Endpoint("fraud_headers_validate", "GET", "fraud_validation", "read_timeout")
ENDPOINTS = (OBLIGATIONS, SUBMIT_RETURN, VIEW_RETURN, LIABILITIES, PAYMENTS, FRAUD_VALIDATE)
GROUPS = sorted({e.group for e in ENDPOINTS})


def vat_path(vrn: str, *segments: str) -> str:
    """`/organisations/vat/{vrn}/…` with every segment percent-encoded (a period key's `#`
    would otherwise start a URL fragment and never reach HMRC)."""
    parts = ["organisations", "vat", vrn, *segments]
    return "/" + "/".join(quote(p, safe="") for p in parts)


@dataclass
class HmrcRequest:
    endpoint: Endpoint
    path: str
    params: dict[str, str] = field(default_factory=dict)
    body: Any = None  # HMRC JSON (Decimals for amounts)
    headers: dict[str, str] = field(default_factory=dict)  # Gov-* and Gov-Test-Scenario


@dataclass
class HmrcResponse:
    status: int
    headers: dict[str, str]
    body: Any  # parsed JSON (Decimal amounts), or None for an empty body
    text: str
    duration: float
    request_headers: dict[str, str]

    @property
    def correlation_id(self) -> str | None:
        return self.headers.get("x-correlationid")

    @property
    def receipt(self) -> dict[str, str]:
        return {h: self.headers[h.lower()] for h in RECEIPT_HEADERS if h.lower() in self.headers}

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def error(self, endpoint: Endpoint) -> MappedError:
        return map_error(self.status, self.body, empty_404=endpoint.empty_404)


class TransportFailure(Exception):
    """No HTTP answer. `maybe_sent` is False only when the request cannot have reached HMRC
    (no connection was made), so a POST may safely be tried again."""

    def __init__(
        self,
        kind: str,
        maybe_sent: bool,
        detail: str,
        duration: float,
        request_headers: dict[str, str],
    ) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.maybe_sent = maybe_sent
        self.detail = detail
        self.duration = duration
        self.request_headers = request_headers


def _classify(exc: httpx.HTTPError) -> tuple[str, bool]:
    if isinstance(exc, httpx.ConnectTimeout | httpx.ConnectError | httpx.PoolTimeout):
        return "connect", False
    if isinstance(exc, httpx.TimeoutException):
        return "timeout", True
    return "reset", True


class HmrcClient:
    def __init__(
        self,
        base_url: str,
        *,
        connect_timeout: float,
        timeouts: dict[str, float],
        max_connections: int,
    ) -> None:
        self.timeouts = timeouts
        self.connect_timeout = connect_timeout
        self.http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
            timeout=httpx.Timeout(10.0, connect=connect_timeout),
        )

    async def aclose(self) -> None:
        await self.http.aclose()

    def _timeout(self, endpoint: Endpoint) -> httpx.Timeout:
        read = self.timeouts[endpoint.timeout_setting]
        return httpx.Timeout(read, connect=self.connect_timeout, pool=self.connect_timeout)

    async def send(self, request: HmrcRequest, access_token: str) -> HmrcResponse:
        headers = {"Accept": ACCEPT, **request.headers}
        content: bytes | None = None
        if request.body is not None:
            content = hmrc_json.dumps(request.body)
            headers["Content-Type"] = "application/json"
        sent_headers = dict(headers)
        headers["Authorization"] = f"Bearer {access_token}"
        started = time.perf_counter()
        try:
            response = await self.http.request(
                request.endpoint.method,
                request.path,
                params=request.params or None,
                content=content,
                headers=headers,
                timeout=self._timeout(request.endpoint),
            )
        except httpx.HTTPError as exc:
            kind, maybe_sent = _classify(exc)
            raise TransportFailure(
                kind,
                maybe_sent,
                str(exc) or type(exc).__name__,
                time.perf_counter() - started,
                sent_headers,
            ) from exc
        duration = time.perf_counter() - started
        text = response.text
        body: Any = None
        if text.strip():
            try:
                body = hmrc_json.loads(text)
            except ValueError:
                body = None  # HMRC's HTML error pages: keep the text for the audit
        return HmrcResponse(
            status=response.status_code,
            headers={k.lower(): v for k, v in response.headers.items()},
            body=body,
            text=text,
            duration=duration,
            request_headers=sent_headers,
        )
