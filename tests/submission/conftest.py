"""Submission tests run the real chain: worker → gateway → HMRC simulator, with auth
issuing the service tokens (the gateway's and submission's own API clients)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from services.auth.app import create_app as create_auth_app
from services.common.database import Database
from services.submission.gateway_client import GatewayClient
from tests.auth.conftest import GATEWAY_ID, AuthApi, make_settings
from tests.conftest import fresh_database
from tests.hmrc_gateway.conftest import Auth, Gateway, gateway, gateway_db, simulator
from tests.serving import serve

__all__ = ["gateway", "gateway_db", "simulator"]

SUBMISSION_ID = "submission"


@pytest.fixture
def submission_secret() -> str:
    return secrets.token_urlsafe(24)


@pytest.fixture
def gateway_secret() -> str:
    return secrets.token_urlsafe(24)


@pytest.fixture
async def auth_api(
    pg_url: str, nats_url: str, tmp_path: Path, submission_secret: str, gateway_secret: str
) -> AsyncIterator[AuthApi]:
    """Auth with service clients for the gateway and for submission."""
    settings = make_settings(
        await fresh_database(pg_url, "auth"),
        nats_url,
        tmp_path,
        service_clients=f"{GATEWAY_ID}:{gateway_secret},{SUBMISSION_ID}:{submission_secret}",
    )
    app = create_auth_app(settings)
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as http:
        yield AuthApi(url, app, settings, http)


@pytest.fixture
def auth(auth_api: AuthApi, gateway_secret: str) -> Auth:
    """The same auth service, as the gateway's fixtures expect it."""
    return Auth(auth_api.url, gateway_secret, auth_api.http)


@pytest.fixture
async def sdb(pg_url: str) -> AsyncIterator[Database]:
    database = Database(await fresh_database(pg_url, "submission"))
    yield database
    await database.dispose()


@pytest.fixture
async def hmrc(
    gateway: Gateway, auth: Auth, submission_secret: str
) -> AsyncIterator[GatewayClient]:
    client = GatewayClient(gateway.url, auth.http, SUBMISSION_ID, submission_secret)
    yield client
    await client.aclose()
