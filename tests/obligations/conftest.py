"""The obligations service served next to everything it talks to, over real HTTP: the HMRC
simulator, auth (connections made through the simulator's real OAuth consent), the gateway
(getting HMRC tokens from auth, so it refuses VRNs without a connection), real PostgreSQL
and NATS. One stack per test module; each test makes its own tenant and VRNs."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from services.hmrc_gateway.app import create_app as create_gateway
from services.obligations.app import create_app
from services.obligations.settings import ObligationsSettings
from tests.auth.conftest import GATEWAY_ID, AuthApi, _serve_auth, bearer, make_settings
from tests.auth.simulator import Simulator, connect_vrns, simulator
from tests.conftest import fresh_database
from tests.hmrc_gateway import devices
from tests.hmrc_gateway.conftest import gateway_settings
from tests.serving import serve

OBLIGATIONS_ID = "obligations"


@dataclass
class Tenant:
    id: str
    token: str  # a viewer client: scope vat:read
    vrns: list[str]


@dataclass
class Platform:
    sim: Simulator
    auth: AuthApi
    gateway_url: str
    url: str
    http: httpx.AsyncClient
    app: Any
    db_url: str

    async def tenant(self, vrns: int = 1) -> Tenant:
        """A tenant with `vrns` VRNs connected through HMRC's consent form, and a viewer."""
        tenant = await self.auth.create_tenant()
        connected = await connect_vrns(self.auth, self.sim, tenant, vrns)
        viewer = await self.auth.token_for_roles(tenant, ["viewer"])
        return Tenant(tenant, viewer, connected)

    async def get(
        self,
        path: str,
        token: str,
        params: Mapping[str, str] | None = None,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        return await self.http.get(
            path,
            params=dict(params or {}),
            headers={**devices.web_headers(), **bearer(token), **(headers or {})},
        )

    async def control(self, method: str, path: str, **kwargs: Any) -> Any:
        """The simulator's control API (outages, faults, counters)."""
        r = await self.sim.http.request(method, f"/control{path}", **kwargs)
        assert r.status_code < 300, r.text
        return r.json()

    async def hmrc_calls(self, endpoint: str) -> int:
        r = await self.sim.http.get("/control/counters")
        assert r.status_code == 200, r.text
        return sum(r.json()["requests"].get(endpoint, {}).values())


@pytest.fixture(scope="module")
async def platform(
    pg_url: str, nats_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Platform]:
    secret = secrets.token_urlsafe(24)
    async with AsyncExitStack() as stack:
        sim = await stack.enter_async_context(simulator(pg_url))
        auth_settings = make_settings(
            await fresh_database(pg_url, "auth"),
            nats_url,
            tmp_path_factory.mktemp("auth"),
            hmrc_base_url=sim.url,
            hmrc_client_id=sim.client_id,
            hmrc_client_secret=sim.client_secret,
            # The submission service's client too, for suites that add it to this platform.
            service_clients=",".join(
                (
                    f"{GATEWAY_ID}:{secrets.token_urlsafe(24)}",
                    f"{OBLIGATIONS_ID}:{secret}",
                    f"submission:{secrets.token_urlsafe(24)}",
                )
            ),
        )
        auth = await stack.enter_async_context(_serve_auth(auth_settings))
        gw_settings = gateway_settings(
            await fresh_database(pg_url, "hmrc_gateway"),
            nats_url,
            sim.url,
            auth.url,
            client_secret=auth_settings.service_client_secrets()[GATEWAY_ID],
        )
        gateway_url = await stack.enter_async_context(serve(create_gateway(gw_settings)))
        db_url = await fresh_database(pg_url, "obligations")
        settings = ObligationsSettings(
            environment="test",
            database_url=db_url,
            nats_url=nats_url,
            auth_url=auth.url,
            client_id=OBLIGATIONS_ID,
            client_secret=secret,
            hmrc_gateway_url=gateway_url,
            connections_ttl_seconds=0,
        )
        app = create_app(settings)
        url = await stack.enter_async_context(serve(app))
        http = await stack.enter_async_context(httpx.AsyncClient(base_url=url, timeout=60))
        yield Platform(sim, auth, gateway_url, url, http, app, db_url)
