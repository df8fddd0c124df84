"""The auth service, from the gateway's side: HMRC access tokens per (tenant, VRN) and the
facts behind Gov-Client-User-IDs / Gov-Client-Multi-Factor. The gateway signs in as its own
API client (role platform_service) and reuses that token until shortly before it expires."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Protocol

import httpx

from services.common.errors import ProblemError
from services.common.logging import get_logger

log = get_logger(__name__)


class TokenSource(Protocol):
    async def hmrc_token(self, tenant_id: str, vrn: str, *, refresh: bool = False) -> str: ...

    async def fraud_facts(self, user_id: str) -> dict[str, Any] | None: ...


def _unavailable(detail: str) -> ProblemError:
    return ProblemError(503, "AUTH_UNAVAILABLE", detail, headers={"Retry-After": "5"})


class AuthClient:
    def __init__(
        self, base_url: str, client_id: str, client_secret: str | None, timeout: float = 5.0
    ) -> None:
        self.http = httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=timeout)
        self.client_id = client_id
        self.client_secret = client_secret
        self._token: str | None = None
        self._token_expires = 0.0
        self._lock = asyncio.Lock()

    async def aclose(self) -> None:
        await self.http.aclose()

    async def _service_token(self, *, renew: bool = False) -> str:
        async with self._lock:
            if not renew and self._token and time.monotonic() < self._token_expires:
                return self._token
            if self.client_secret is None:
                raise _unavailable("The gateway has no client secret for the auth service.")
            try:
                r = await self.http.post(
                    "/v1/auth/token",
                    data={
                        "grant_type": "client_credentials",
                        "client_id": self.client_id,
                        "client_secret": self.client_secret,
                    },
                )
            except httpx.HTTPError as exc:
                raise _unavailable(
                    f"The auth service is unreachable ({type(exc).__name__})."
                ) from exc
            if r.status_code != 200:
                raise _unavailable(
                    f"The auth service refused the gateway's sign-in ({r.status_code})."
                )
            doc = r.json()
            self._token = str(doc["access_token"])
            self._token_expires = time.monotonic() + max(
                30.0, float(doc.get("expires_in", 300)) - 60
            )
            return self._token

    async def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        for attempt in (1, 2):
            token = await self._service_token(renew=attempt == 2)
            try:
                r = await self.http.request(
                    method, path, headers={"Authorization": f"Bearer {token}"}, **kwargs
                )
            except httpx.HTTPError as exc:
                raise _unavailable(
                    f"The auth service is unreachable ({type(exc).__name__})."
                ) from exc
            if r.status_code != 401:
                return r
        return r

    async def hmrc_token(self, tenant_id: str, vrn: str, *, refresh: bool = False) -> str:
        # `refresh`: HMRC just refused the token auth gave; auth refreshes tokens that are
        # about to expire, so asking again yields a fresh one if the old was revoked early.
        r = await self._call(
            "POST", "/internal/v1/hmrc/access-token", json={"tenant_id": tenant_id, "vrn": vrn}
        )
        if r.status_code == 200:
            return str(r.json()["access_token"])
        if r.status_code in (404, 409):
            body = r.json() if r.headers.get("content-type", "").endswith("json") else {}
            raise ProblemError(
                409,
                "HMRC_REAUTHORISATION_REQUIRED",
                str(body.get("detail") or "This VRN has no working HMRC connection."),
                action="Ask the business to connect this VRN to HMRC.",
            )
        raise _unavailable(f"The auth service could not give an HMRC token ({r.status_code}).")

    async def fraud_facts(self, user_id: str) -> dict[str, Any] | None:
        r = await self._call("GET", f"/internal/v1/users/{user_id}/fraud-facts")
        if r.status_code == 200:
            doc: dict[str, Any] = r.json()
            return doc
        if r.status_code in (404, 422):
            return None
        raise _unavailable(f"The auth service could not give fraud facts ({r.status_code}).")
