"""The gateway's internal API, from this service's side: one GET per HMRC read, signed in as
this service's own API client, with the caller's device data passed on for HMRC's fraud
prevention headers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from services.common import jsonutil
from services.common.errors import ProblemError
from services.common.http_client import make_client
from services.common.security.service_token import ServiceToken

# Statuses that say "HMRC (or the way to it) is not answering now": worth a stale answer.
OUTAGE_STATUSES = frozenset({429, 500, 502, 503, 504})
TEST_SCENARIO = "Gov-Test-Scenario"


@dataclass(frozen=True)
class GatewayAnswer:
    body: dict[str, Any]
    correlation_id: str | None


class GatewayUnavailable(Exception):
    """HMRC is down, throttled or unreachable: the caller may fall back to a cached answer."""

    def __init__(self, code: str, detail: str, retry_after: str | None = None) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.retry_after = retry_after


def forwarded_headers(headers: Mapping[str, str], peer: tuple[str, int] | None) -> dict[str, str]:
    """Device data for the gateway: the caller's `Gov-Client-*` / `Gov-Vendor-*` headers and
    the test scenario, plus a `Forwarded` element for the peer we saw, because to the gateway
    this service is one more proxy between the device and HMRC."""
    out = {
        k: v
        for k, v in headers.items()
        if k.lower().startswith(("gov-client-", "gov-vendor-")) or k.lower() == "gov-test-scenario"
    }
    forwarded = headers.get("forwarded")
    if peer is not None:
        host = f"[{peer[0]}]" if ":" in peer[0] else peer[0]
        element = f'for="{host}:{peer[1]}"'
        forwarded = f"{forwarded}, {element}" if forwarded else element
    if forwarded:
        out["Forwarded"] = forwarded
    return out


class GatewayClient:
    def __init__(
        self,
        gateway_url: str,
        auth_http: httpx.AsyncClient,
        client_id: str,
        client_secret: str | None,
        timeout: float,
    ) -> None:
        # The gateway already retries HMRC safely; retrying it again would multiply calls.
        self.http = make_client(
            gateway_url.rstrip("/") or "http://gateway.invalid",
            timeout=httpx.Timeout(timeout, connect=2.0),
            retries=1,
        )
        self.token = ServiceToken(auth_http, client_id, client_secret)
        self.calls = 0  # HMRC reads asked for by this process (for the bench and tests)

    async def aclose(self) -> None:
        await self.http.aclose()

    async def get(
        self,
        kind: str,
        tenant_id: str,
        vrn: str,
        params: Mapping[str, str],
        device: Mapping[str, str],
    ) -> GatewayAnswer:
        self.calls += 1
        r: httpx.Response | None = None
        for attempt in (1, 2):
            token = await self.token.get(renew=attempt == 2)
            try:
                r = await self.http.get(
                    f"/internal/v1/vat/{vrn}/{kind}",
                    params={"tenant_id": tenant_id, **params},
                    headers={**device, "Authorization": f"Bearer {token}"},
                )
            except httpx.HTTPError as exc:
                raise GatewayUnavailable(
                    "HMRC_GATEWAY_UNREACHABLE",
                    f"The HMRC gateway did not answer ({type(exc).__name__}).",
                ) from exc
            if r.status_code != 401:
                break
        assert r is not None
        body = _json(r)
        if r.status_code == 200 and isinstance(body, dict):
            return GatewayAnswer(body, r.headers.get("x-correlationid") or None)
        code = str(body.get("code") or f"HMRC_GATEWAY_{r.status_code}")
        detail = str(body.get("detail") or "The HMRC gateway refused the request.")
        if r.status_code in OUTAGE_STATUSES:
            raise GatewayUnavailable(code, detail, r.headers.get("retry-after"))
        # HMRC's (or the gateway's) own refusal: the client should see it as it is.
        extra = {
            k: v
            for k, v in body.items()
            if k not in {"type", "title", "status", "code", "detail", "instance"}
        }
        raise ProblemError(r.status_code, code, detail, **extra)


def _json(r: httpx.Response) -> dict[str, Any]:
    try:
        # Amounts stay exact: any JSON number becomes a Decimal, never a float.
        body = jsonutil.loads(r.content)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
