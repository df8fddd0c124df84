"""The HMRC simulator (services/hmrc_sandbox) served over real HTTP next to auth, and the
steps a taxpayer takes there: create a test organisation, sign in, grant or deny."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
from fastapi import FastAPI

from services.hmrc_sandbox.app import create_app as create_sandbox
from services.hmrc_sandbox.settings import HmrcSandboxSettings
from tests.auth.conftest import AuthApi, Person, ServeAuth, bearer, make_settings
from tests.conftest import fresh_database, sql
from tests.serving import serve

HMRC_JSON = "application/vnd.hmrc.1.0+json"


@dataclass
class Simulator:
    url: str
    app: FastAPI
    client_id: str
    client_secret: str
    http: httpx.AsyncClient

    async def app_token(self) -> str:
        r = await self.http.post(
            "/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": self.client_id,
                "client_secret": self.client_secret,
            },
        )
        assert r.status_code == 200, r.text
        return str(r.json()["access_token"])

    async def create_organisation(self) -> dict[str, Any]:
        r = await self.http.post(
            "/create-test-user/organisations",
            json={"serviceNames": ["mtd-vat"]},
            headers={**bearer(await self.app_token()), "Accept": HMRC_JSON},
        )
        assert r.status_code == 201, r.text
        body: dict[str, Any] = r.json()
        return body

    async def consent(self, authorize_url: str, taxpayer: dict[str, Any], decision: str) -> str:
        """What the consent form does: returns where HMRC redirects the browser."""
        page = await self.http.get(authorize_url)
        assert page.status_code == 200, page.text
        assert "Grant authority" in page.text
        params = dict(parse_qsl(urlsplit(authorize_url).query))
        r = await self.http.post(
            "/oauth/authorize",
            data={
                **params,
                "user_id": taxpayer["userId"],
                "password": taxpayer["password"],
                "decision": decision,
            },
        )
        assert r.status_code in (302, 303), r.text
        return r.headers["location"]

    async def token_endpoint_calls(self) -> int:
        """Calls to HMRC's token endpoint so far, from the simulator's control API."""
        r = await self.http.get("/control/counters")
        assert r.status_code == 200, r.text
        return sum(r.json()["requests"].get("oauth_token", {}).values())

    async def vat_call(self, vrn: str, access_token: str) -> httpx.Response:
        """An HMRC VAT API call with the token, to see whether HMRC accepts it."""
        return await self.http.get(
            f"/organisations/vat/{vrn}/obligations",
            params={"from": "2025-01-01", "to": "2025-12-31"},
            headers={**bearer(access_token), "Accept": HMRC_JSON},
        )


@asynccontextmanager
async def simulator(pg_url: str) -> AsyncIterator[Simulator]:
    client_id, client_secret = "platform-" + uuid.uuid4().hex[:8], secrets.token_urlsafe(24)
    settings = HmrcSandboxSettings(
        environment="test",
        database_url=await fresh_database(pg_url, "hmrc_sandbox"),
        client_id=client_id,
        client_secret=client_secret,
        control_enabled=True,
        rate_limit_per_second=1000,
    )
    app = create_sandbox(settings)
    async with serve(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as http:
        yield Simulator(url, app, client_id, client_secret, http)


@asynccontextmanager
async def auth_with_simulator(
    serve_auth: ServeAuth, pg_url: str, nats_url: str, tmp_path: Path, **overrides: Any
) -> AsyncIterator[tuple[AuthApi, Simulator]]:
    async with simulator(pg_url) as sim:
        settings = make_settings(
            await fresh_database(pg_url, "auth"),
            nats_url,
            tmp_path,
            hmrc_base_url=sim.url,
            hmrc_client_id=sim.client_id,
            hmrc_client_secret=sim.client_secret,
            **overrides,
        )
        async with serve_auth(settings) as auth:
            yield auth, sim


@dataclass
class Connected:
    id: str
    vrn: str
    tenant: str
    user: Person
    user_token: str
    taxpayer: dict[str, Any]


async def start_connection(auth: AuthApi, token: str, vrn: str) -> dict[str, Any]:
    r = await auth.http.post("/v1/connections", json={"vrn": vrn}, headers=bearer(token))
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


async def connect_vrns(auth: AuthApi, sim: Simulator, tenant_id: str, count: int) -> list[str]:
    """`count` new sandbox organisations connected to `tenant_id` through HMRC's consent form."""
    connector = await auth.token_for_roles(tenant_id, ["submitter"])
    connected = []
    for _ in range(count):
        taxpayer = await sim.create_organisation()
        started = await start_connection(auth, connector, taxpayer["vrn"])
        location = await sim.consent(started["authorize_url"], taxpayer, "grant")
        r = await auth.http.get(location)
        assert r.status_code == 200, r.text
        connected.append(str(taxpayer["vrn"]))
    return connected


async def connect(auth: AuthApi, sim: Simulator) -> Connected:
    """The whole happy path, as a script would do it without a browser."""
    tenant = await auth.create_tenant()
    user = await auth.create_user(tenant, ["submitter"])
    token = await auth.enrol(user)
    taxpayer = await sim.create_organisation()
    auth.remember(taxpayer["password"])
    started = await start_connection(auth, token, taxpayer["vrn"])
    location = await sim.consent(started["authorize_url"], taxpayer, "grant")
    r = await auth.http.get(location)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "active"
    return Connected(started["id"], taxpayer["vrn"], tenant, user, token, taxpayer)


async def hmrc_token(auth: AuthApi, tenant: str, vrn: str) -> httpx.Response:
    gateway = await auth.gateway_token()
    return await auth.http.post(
        "/internal/v1/hmrc/access-token",
        json={"tenant_id": tenant, "vrn": vrn},
        headers=bearer(gateway),
    )


async def expire_access_token(auth: AuthApi, connection_id: str) -> None:
    """Our record says the HMRC access token has run out (as it does after four hours)."""
    url = auth.settings.database_url
    assert url is not None
    await sql(
        url.get_secret_value(),
        "UPDATE hmrc_connections SET access_expires_at = now() - interval '1 minute' "
        f"WHERE id = '{uuid.UUID(connection_id)}'",
    )
