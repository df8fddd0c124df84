"""Fixtures for the auth service: a migrated database, real NATS, the app over real HTTP,
and helpers that build tenants, clients and users through the public API."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from services.auth.app import create_app
from services.auth.settings import AuthSettings
from services.auth.signing import generate_pem
from services.common.envelope import new_keyring_entry
from tests.conftest import fresh_database
from tests.serving import serve

BOOTSTRAP_ID = "bootstrap-admin"
GATEWAY_ID = "hmrc_gateway"
# Nobody listens here: the HMRC-facing tests serve the simulator and pass its URL instead.
NO_HMRC = "http://127.0.0.1:9"


def make_settings(
    database_url: str, nats_url: str, tmp_path: Path, **overrides: Any
) -> AuthSettings:
    values: dict[str, Any] = {
        "environment": "test",
        "database_url": database_url,
        "nats_url": nats_url,
        "hmrc_base_url": NO_HMRC,
        "hmrc_client_id": "platform-app",
        "hmrc_client_secret": secrets.token_urlsafe(16),
        "signing_key": generate_pem(),
        "encryption_keys": new_keyring_entry("k1"),
        "user_id_salts": "s1:" + secrets.token_urlsafe(24),
        "dev_secrets_dir": tmp_path / "dev-secrets",
        "bootstrap_client_id": BOOTSTRAP_ID,
        "bootstrap_client_secret": secrets.token_urlsafe(24),
        "bootstrap_outside_development": True,
        "service_clients": f"{GATEWAY_ID}:{secrets.token_urlsafe(24)}",
        # Cheap hashing keeps the suite fast; production refuses values this low.
        "argon2_time_cost": 1,
        "argon2_memory_cost_kib": 64,
        "max_failures": 5,
        "lockout_seconds": 60,
    }
    values.update(overrides)
    return AuthSettings(**values)


@pytest.fixture
async def auth_db_url(pg_url: str) -> str:
    return await fresh_database(pg_url, "auth")


@pytest.fixture
def auth_settings(auth_db_url: str, nats_url: str, tmp_path: Path) -> AuthSettings:
    return make_settings(auth_db_url, nats_url, tmp_path)


@dataclass
class AuthApi:
    """The auth service over HTTP, with helpers that go through the public API only."""

    url: str
    app: FastAPI | None  # None when auth runs as its own process
    settings: AuthSettings
    http: httpx.AsyncClient
    issued: list[str] = field(default_factory=list)  # every secret the test has seen

    def remember(self, *values: str | None) -> None:
        self.issued.extend(v for v in values if v)

    async def client_token(self, client_id: str, client_secret: str) -> str:
        r = await self.http.post(
            "/v1/auth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": client_id,
                "client_secret": client_secret,
            },
        )
        assert r.status_code == 200, r.text
        token = str(r.json()["access_token"])
        self.remember(token)
        return token

    async def admin_token(self) -> str:
        secret = self.settings.bootstrap_client_secret
        assert secret is not None
        return await self.client_token(BOOTSTRAP_ID, secret.get_secret_value())

    async def gateway_token(self) -> str:
        secret = self.settings.service_client_secrets()[GATEWAY_ID]
        return await self.client_token(GATEWAY_ID, secret)

    async def create_tenant(self, name: str | None = None) -> str:
        r = await self.http.post(
            "/v1/tenants",
            json={"name": name or f"tenant-{uuid.uuid4().hex[:8]}"},
            headers=bearer(await self.admin_token()),
        )
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    async def create_client(self, tenant_id: str, roles: list[str]) -> tuple[str, str]:
        r = await self.http.post(
            f"/v1/tenants/{tenant_id}/clients",
            json={"name": "client " + ",".join(roles), "roles": roles},
            headers=bearer(await self.admin_token()),
        )
        assert r.status_code == 201, r.text
        body = r.json()
        self.remember(body["client_secret"])
        return body["client_id"], body["client_secret"]

    async def token_for_roles(self, tenant_id: str, roles: list[str]) -> str:
        return await self.client_token(*await self.create_client(tenant_id, roles))

    async def create_user(
        self, tenant_id: str, roles: list[str], password: str | None = None
    ) -> Person:
        email = f"user-{uuid.uuid4().hex[:8]}@example.com"
        password = password or "pw-" + secrets.token_urlsafe(16)
        r = await self.http.post(
            f"/v1/tenants/{tenant_id}/users",
            json={"email": email, "name": "Test User", "roles": roles, "password": password},
            headers=bearer(await self.admin_token()),
        )
        assert r.status_code == 201, r.text
        self.remember(password)
        return Person(id=r.json()["id"], email=email, password=password, tenant_id=tenant_id)

    async def create_platform_user(self, roles: list[str]) -> Person:
        """Platform staff (e.g. support), in no tenant."""
        email = f"staff-{uuid.uuid4().hex[:8]}@example.com"
        password = "pw-" + secrets.token_urlsafe(16)
        r = await self.http.post(
            "/v1/platform/users",
            json={"email": email, "name": "Staff", "roles": roles, "password": password},
            headers=bearer(await self.admin_token()),
        )
        assert r.status_code == 201, r.text
        self.remember(password)
        return Person(id=r.json()["id"], email=email, password=password, tenant_id="")

    async def enrol(self, user: Person) -> str:
        """Sign in with the password, enrol TOTP; returns the full session token."""
        r = await self.http.post(
            "/v1/auth/login", json={"email": user.email, "password": user.password}
        )
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "mfa_enrolment_required"
        enrol_token = r.json()["access_token"]
        r = await self.http.post("/v1/auth/mfa/totp", headers=bearer(enrol_token))
        assert r.status_code == 201, r.text
        user.totp_secret = r.json()["secret"]
        r = await self.http.post(
            "/v1/auth/mfa/totp/verify",
            json={"code": pyotp.TOTP(user.totp_secret).now()},
            headers=bearer(enrol_token),
        )
        assert r.status_code == 200, r.text
        user.recovery_codes = r.json()["recovery_codes"]
        self.remember(enrol_token, user.totp_secret, r.json()["access_token"], *user.recovery_codes)
        return str(r.json()["access_token"])


@dataclass
class Person:
    id: str
    email: str
    password: str
    tenant_id: str
    totp_secret: str = ""
    recovery_codes: list[str] = field(default_factory=list)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


ServeAuth = Callable[[AuthSettings], AbstractAsyncContextManager["AuthApi"]]


@pytest.fixture
def serve_auth() -> ServeAuth:
    return _serve_auth


def settings_env(settings: AuthSettings) -> dict[str, str]:
    """The environment that gives a separate auth process these settings."""
    env = {}
    for name, value in settings:
        if value is None:
            continue
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        env[f"AUTH_{name.upper()}"] = str(text).lower() if isinstance(text, bool) else str(text)
    return env


@asynccontextmanager
async def _serve_auth(settings: AuthSettings) -> AsyncIterator[AuthApi]:
    app = create_app(settings)
    async with serve(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as http:
        yield AuthApi(url=url, app=app, settings=settings, http=http)


@pytest.fixture
async def auth(auth_settings: AuthSettings) -> AsyncIterator[AuthApi]:
    async with _serve_auth(auth_settings) as api:
        yield api
