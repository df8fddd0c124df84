"""The auth service, from the gateway's side: HMRC access tokens per (tenant, VRN) and the
facts behind Gov-Client-User-IDs / Gov-Client-Multi-Factor. The gateway signs in as its own
API client (role platform_service) and reuses that token until shortly before it expires.

HMRC access tokens are kept for a short while too (`token_ttl`, 30 s by default): at a
deadline the same VRN is served many times a minute, and asking auth each time costs more
than the HMRC call. The short lifetime bounds how long a disconnected VRN can still be
served; a token HMRC refuses is dropped at once (`refresh=True`)."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any, Protocol

import httpx

from services.common.errors import ProblemError
from services.common.logging import get_logger
from services.common.security.service_token import ServiceToken, auth_unavailable

log = get_logger(__name__)


class TokenSource(Protocol):
    async def hmrc_token(self, tenant_id: str, vrn: str, *, refresh: bool = False) -> str: ...

    async def fraud_facts(self, user_id: str) -> dict[str, Any] | None: ...


class AuthClient:
    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str | None,
        timeout: float = 5.0,
        *,
        token_ttl: float = 30.0,
    ) -> None:
        self.http = httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=timeout)
        self.service_token = ServiceToken(self.http, client_id, client_secret)
        self.token_ttl = token_ttl
        # (tenant, VRN) -> (access token, monotonic time it stops being reused)
        self._tokens: dict[tuple[str, str], tuple[str, float]] = {}

    async def aclose(self) -> None:
        await self.http.aclose()

    async def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        for attempt in (1, 2):
            token = await self.service_token.get(renew=attempt == 2)
            try:
                r = await self.http.request(
                    method, path, headers={"Authorization": f"Bearer {token}"}, **kwargs
                )
            except httpx.HTTPError as exc:
                raise auth_unavailable(
                    f"The auth service is unreachable ({type(exc).__name__})."
                ) from exc
            if r.status_code != 401:
                return r
        return r

    async def hmrc_token(self, tenant_id: str, vrn: str, *, refresh: bool = False) -> str:
        # `refresh`: HMRC just refused the token auth gave; auth refreshes tokens that are
        # about to expire, so asking again yields a fresh one if the old was revoked early.
        key = (tenant_id, vrn)
        cached = self._tokens.get(key)
        if cached is not None and not refresh and cached[1] > time.monotonic():
            return cached[0]
        self._tokens.pop(key, None)
        r = await self._call(
            "POST", "/internal/v1/hmrc/access-token", json={"tenant_id": tenant_id, "vrn": vrn}
        )
        if r.status_code == 200:
            body = r.json()
            token = str(body["access_token"])
            self._remember(key, token, body.get("expires_at"))
            return token
        if r.status_code in (404, 409):
            body = r.json() if r.headers.get("content-type", "").endswith("json") else {}
            raise ProblemError(
                409,
                "HMRC_REAUTHORISATION_REQUIRED",
                str(body.get("detail") or "This VRN has no working HMRC connection."),
                action="Ask the business to connect this VRN to HMRC.",
            )
        raise auth_unavailable(f"The auth service could not give an HMRC token ({r.status_code}).")

    def _remember(self, key: tuple[str, str], token: str, expires_at: str | None) -> None:
        if self.token_ttl <= 0 or expires_at is None:
            return
        # Never past HMRC's own expiry (less a minute for clock skew and the call itself).
        left = datetime.fromisoformat(expires_at).timestamp() - time.time() - 60
        ttl = min(self.token_ttl, left)
        if ttl > 0:
            self._tokens[key] = (token, time.monotonic() + ttl)

    async def fraud_facts(self, user_id: str) -> dict[str, Any] | None:
        r = await self._call("GET", f"/internal/v1/users/{user_id}/fraud-facts")
        if r.status_code == 200:
            doc: dict[str, Any] = r.json()
            return doc
        if r.status_code in (404, 422):
            return None
        raise auth_unavailable(f"The auth service could not give fraud facts ({r.status_code}).")
