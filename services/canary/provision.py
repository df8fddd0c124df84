"""The canary's API client. In a cluster it comes from a Secret; on the local stack the
platform-admin bootstrap client creates a tenant and a client for it, once per process."""

from __future__ import annotations

import uuid

import httpx

from services.canary.journey import JourneyFailed, bearer
from services.canary.settings import CanarySettings

CANARY_ROLES = ["submitter", "auditor"]


async def api_client(
    settings: CanarySettings, http: httpx.AsyncClient, seen: list[str] | None = None
) -> tuple[str, str]:
    """The canary's client id and secret; `seen` collects the credentials handled."""
    seen = seen if seen is not None else []
    if settings.client_id and settings.client_secret:
        return settings.client_id, settings.client_secret.get_secret_value()
    if not (settings.bootstrap_client_id and settings.bootstrap_client_secret):
        raise JourneyFailed(
            "token", "set CANARY_CLIENT_ID and CANARY_CLIENT_SECRET (or a bootstrap client)"
        )
    auth = settings.auth_url
    r = await http.post(
        f"{auth}/v1/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": settings.bootstrap_client_id,
            "client_secret": settings.bootstrap_client_secret.get_secret_value(),
        },
    )
    if r.status_code != 200:
        raise JourneyFailed("token", f"bootstrap sign-in: HTTP {r.status_code}")
    seen.append(r.json()["access_token"])
    admin = bearer(seen[-1])
    r = await http.post(
        f"{auth}/v1/tenants", json={"name": f"canary-{uuid.uuid4().hex[:8]}"}, headers=admin
    )
    if r.status_code != 201:
        raise JourneyFailed("token", f"creating the canary tenant: HTTP {r.status_code}")
    r = await http.post(
        f"{auth}/v1/tenants/{r.json()['id']}/clients",
        json={"name": "canary", "roles": CANARY_ROLES},
        headers=admin,
    )
    if r.status_code != 201:
        raise JourneyFailed("token", f"creating the canary client: HTTP {r.status_code}")
    seen.append(str(r.json()["client_secret"]))
    return str(r.json()["client_id"]), seen[-1]
