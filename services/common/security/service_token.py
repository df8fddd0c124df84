"""A service's own access token from auth (client credentials), reused until shortly before
it expires. Services call each other with it (role platform_service)."""

from __future__ import annotations

import asyncio
import time

import httpx

from services.common.errors import ProblemError


def auth_unavailable(detail: str) -> ProblemError:
    return ProblemError(503, "AUTH_UNAVAILABLE", detail, headers={"Retry-After": "5"})


class ServiceToken:
    def __init__(self, http: httpx.AsyncClient, client_id: str, client_secret: str | None) -> None:
        """`http` is a client whose base URL is the auth service."""
        self.http = http
        self.client_id = client_id
        self.client_secret = client_secret
        self._token: str | None = None
        self._expires = 0.0
        self._lock = asyncio.Lock()

    async def get(self, *, renew: bool = False) -> str:
        async with self._lock:
            if not renew and self._token and time.monotonic() < self._expires:
                return self._token
            if self.client_secret is None:
                raise auth_unavailable(f"{self.client_id} has no client secret for auth.")
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
                raise auth_unavailable(
                    f"The auth service is unreachable ({type(exc).__name__})."
                ) from exc
            if r.status_code != 200:
                raise auth_unavailable(
                    f"The auth service refused {self.client_id}'s sign-in ({r.status_code})."
                )
            doc = r.json()
            self._token = str(doc["access_token"])
            # Renew a minute early so a token never expires in flight.
            self._expires = time.monotonic() + max(30.0, float(doc.get("expires_in", 300)) - 60)
            return self._token
