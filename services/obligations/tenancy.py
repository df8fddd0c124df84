"""Which VRNs a tenant may read: the tenant's HMRC connections at auth, asked with the
caller's own token (so auth applies its own rules), kept briefly per tenant."""

from __future__ import annotations

import asyncio
import time

import httpx

from services.common.errors import ProblemError
from services.common.security.jwt_verify import Principal
from services.common.security.service_token import auth_unavailable

# A connection that was granted once: its data is the tenant's even while it needs renewal.
READABLE = frozenset({"active", "expiring_soon", "needs_reauthorisation"})


class Connections:
    def __init__(self, auth_http: httpx.AsyncClient, ttl: float) -> None:
        self.http = auth_http
        self.ttl = ttl
        self._cache: dict[str, tuple[float, frozenset[str]]] = {}
        self._inflight: dict[str, asyncio.Task[frozenset[str]]] = {}

    async def vrns(self, principal: Principal, token: str) -> frozenset[str]:
        tenant = tenant_of(principal)
        hit = self._cache.get(tenant)
        if hit is not None and time.monotonic() < hit[0]:
            return hit[1]
        # When the entry runs out under load, one request asks auth and the rest wait for
        # it, rather than hundreds of identical calls at once. Any of the tenant's tokens
        # will do: every tenant role may list the tenant's connections.
        task = self._inflight.get(tenant)
        if task is None:
            task = asyncio.create_task(self._fetch(tenant, token))
            self._inflight[tenant] = task
            task.add_done_callback(lambda _: self._inflight.pop(tenant, None))
        return await asyncio.shield(task)

    async def _fetch(self, tenant: str, token: str) -> frozenset[str]:
        try:
            r = await self.http.get("/v1/connections", headers={"Authorization": f"Bearer {token}"})
        except httpx.HTTPError as exc:
            raise auth_unavailable(
                f"The auth service is unreachable ({type(exc).__name__})."
            ) from exc
        if r.status_code in (401, 403):
            body = r.json() if r.content else {}
            raise ProblemError(
                r.status_code,
                str(body.get("code") or "FORBIDDEN"),
                str(body.get("detail") or "Auth refused to list this tenant's connections."),
            )
        if r.status_code != 200:
            raise auth_unavailable(f"Auth could not list the connections ({r.status_code}).")
        vrns = frozenset(str(c["vrn"]) for c in r.json() if c.get("status") in READABLE)
        self._cache[tenant] = (time.monotonic() + self.ttl, vrns)
        return vrns

    async def check(self, principal: Principal, token: str, vrn: str) -> None:
        """404 rather than 403, so a VRN's existence in another tenant never shows."""
        if vrn not in await self.vrns(principal, token):
            raise ProblemError(
                404,
                "VRN_NOT_CONNECTED",
                f"VRN {vrn} is not connected to HMRC in your tenant.",
                action="Connect the VRN (POST /v1/connections) and try again.",
            )


def tenant_of(principal: Principal) -> str:
    if principal.tenant_id is None:
        raise ProblemError(
            403, "TENANT_REQUIRED", "VAT account data is read by a tenant's own identities."
        )
    return str(principal.tenant_id)
