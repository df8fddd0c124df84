"""Fixtures: the HMRC simulator over real HTTP with a test user connected through its real
OAuth flow, the auth service (JWKS and the gateway's own API client), and the gateway."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from services.auth.app import create_app as create_auth_app
from services.hmrc_gateway.app import create_app
from services.hmrc_gateway.settings import HmrcGatewaySettings
from services.hmrc_sandbox.app import create_app as create_sandbox_app
from services.hmrc_sandbox.settings import HmrcSandboxSettings
from tests.auth.conftest import GATEWAY_ID, make_settings
from tests.conftest import fresh_database
from tests.serving import serve

ACCEPT = {"Accept": "application/vnd.hmrc.1.0+json"}
REDIRECT = "https://platform.example/callback"
APP_ID = "platform-app"
VENDOR_IP = "20.77.1.1"


@dataclass
class Simulator:
    url: str
    client_id: str
    client_secret: str
    http: httpx.AsyncClient
    users: dict[str, dict[str, Any]] = field(default_factory=dict)  # vrn -> user + tokens

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

    async def connect_user(self) -> str:
        """A new organisation with MTD VAT, authorised through the consent form; its VRN."""
        r = await self.http.post(
            "/create-test-user/organisations",
            json={"serviceNames": ["mtd-vat"]},
            headers={**ACCEPT, "Authorization": f"Bearer {await self.app_token()}"},
        )
        assert r.status_code == 201, r.text
        user = r.json()
        params = {
            "response_type": "code",
            "client_id": self.client_id,
            "scope": "read:vat write:vat",
            "redirect_uri": REDIRECT,
            "state": "s",
        }
        r = await self.http.post(
            "/oauth/authorize",
            params=params,
            data={"user_id": user["userId"], "password": user["password"], "decision": "grant"},
        )
        assert r.status_code == 303, r.text
        code = parse_qs(urlparse(r.headers["location"]).query)["code"][0]
        r = await self.http.post(
            "/oauth/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT,
                "client_id": self.client_id,
                "client_secret": self.client_secret,
            },
        )
        assert r.status_code == 200, r.text
        self.users[user["vrn"]] = {**user, **r.json()}
        return str(user["vrn"])

    async def control(self, method: str, path: str, **kwargs: Any) -> Any:
        r = await self.http.request(method, f"/control{path}", **kwargs)
        assert r.status_code < 300, r.text
        return r.json()


class SimulatorTokens:
    """HMRC tokens as auth would hand them out, from the simulator's real OAuth grant; a
    refresh uses the refresh token exactly as auth does."""

    def __init__(self, simulator: Simulator) -> None:
        self.simulator = simulator
        self.refreshes = 0
        self.stale: set[str] = set()

    async def hmrc_token(self, tenant_id: str, vrn: str, *, refresh: bool = False) -> str:
        user = self.simulator.users[vrn]
        if refresh:
            self.refreshes += 1
            r = await self.simulator.http.post(
                "/oauth/token",
                data={
                    "grant_type": "refresh_token",
                    "refresh_token": user["refresh_token"],
                    "client_id": self.simulator.client_id,
                    "client_secret": self.simulator.client_secret,
                },
            )
            assert r.status_code == 200, r.text
            user.update(r.json())
        if vrn in self.stale and not refresh:
            return "an-expired-token"
        return str(user["access_token"])

    async def fraud_facts(self, user_id: str) -> dict[str, Any] | None:
        return None


@pytest.fixture
async def simulator(pg_url: str) -> AsyncIterator[Simulator]:
    secret = secrets.token_urlsafe(16)
    settings = HmrcSandboxSettings(
        environment="test",
        database_url=await fresh_database(pg_url, "hmrc_sandbox"),
        client_id=APP_ID,
        client_secret=secret,
        control_enabled=True,
        rate_limit_per_second=1000,
    )
    async with serve(create_sandbox_app(settings)) as url, httpx.AsyncClient(base_url=url) as http:
        yield Simulator(url, APP_ID, secret, http)


@dataclass
class Auth:
    url: str
    gateway_secret: str
    http: httpx.AsyncClient

    async def service_token(self) -> str:
        r = await self.http.post(
            "/v1/auth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": GATEWAY_ID,
                "client_secret": self.gateway_secret,
            },
        )
        assert r.status_code == 200, r.text
        return str(r.json()["access_token"])


@pytest.fixture
async def auth(pg_url: str, nats_url: str, tmp_path: Path) -> AsyncIterator[Auth]:
    settings = make_settings(await fresh_database(pg_url, "auth"), nats_url, tmp_path)
    gateway_secret = settings.service_client_secrets()[GATEWAY_ID]
    async with (
        serve(create_auth_app(settings)) as url,
        httpx.AsyncClient(base_url=url) as http,
    ):
        yield Auth(url, gateway_secret, http)


def gateway_settings(db_url: str, nats_url: str, hmrc_url: str, auth_url: str, **kw: Any) -> Any:
    values: dict[str, Any] = {
        "environment": "test",
        "database_url": db_url,
        "nats_url": nats_url,
        "hmrc_base_url": hmrc_url,
        "auth_url": auth_url,
        "replica_id": f"test-{uuid.uuid4().hex[:6]}",
        "vendor_public_ip": VENDOR_IP,
        "rate_per_second": 20.0,
        "backoff_base_seconds": 0.01,
        "backoff_max_seconds": 0.05,
        "throttle_pause_seconds": 1.0,
        "breaker_open_seconds": 1.0,
        "breaker_failure_threshold": 3,
        "governor_poll_interval": 0.5,
        "read_timeout": 2.0,
        "submit_timeout": 2.0,
    }
    values.update(kw)
    return HmrcGatewaySettings(**values)


@dataclass
class Gateway:
    url: str
    http: httpx.AsyncClient
    app: Any
    tokens: SimulatorTokens
    db_url: str

    @property
    def core(self) -> Any:
        return self.app.state.gateway


@pytest.fixture
async def gateway_db(pg_url: str) -> str:
    return await fresh_database(pg_url, "hmrc_gateway")


@pytest.fixture
async def gateway(
    simulator: Simulator, auth: Auth, gateway_db: str, nats_url: str
) -> AsyncIterator[Gateway]:
    tokens = SimulatorTokens(simulator)
    settings = gateway_settings(gateway_db, nats_url, simulator.url, auth.url)
    app = create_app(settings, tokens=tokens)
    token = await auth.service_token()
    async with (
        serve(app) as url,
        httpx.AsyncClient(
            base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        ) as http,
    ):
        yield Gateway(url, http, app, tokens, gateway_db)
