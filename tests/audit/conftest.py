"""Fixtures for the audit service: a migrated database, real NATS (the AUDIT stream purged
per test), the app over real HTTP, and access tokens signed with a real Ed25519 key whose
JWKS is served over HTTP like the auth service serves it."""

from __future__ import annotations

import asyncio
import base64
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from jwt.algorithms import OKPAlgorithm
from nats.aio.client import Client
from nats.js import JetStreamContext

from services.audit.app import create_app
from services.audit.context import AuditContext
from services.audit.models import records
from services.audit.sealing import KeyWrapper
from services.audit.settings import AuditSettings
from services.common import jsonutil
from services.common.database import Database
from services.common.messaging import streams
from services.common.messaging.connection import ensure_stream
from tests.conftest import fresh_database
from tests.serving import serve

ISSUER = "mtd-vat-auth"
AUDIENCE = "mtd-vat"


@dataclass
class TokenMint:
    """Signs access tokens the way the auth service does (EdDSA, kid, iss, aud, exp)."""

    key: Ed25519PrivateKey
    kid: str
    jwks_url: str

    def token(
        self,
        roles: list[str],
        tenant_id: str | None,
        *,
        subject: str | None = None,
        ttl: int = 300,
        kid: str | None = None,
    ) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "sub": subject or f"client-{uuid.uuid4().hex[:8]}",
            "typ": "client",
            "iss": ISSUER,
            "aud": AUDIENCE,
            "iat": now,
            "exp": now + ttl,
            "roles": roles,
            "scope": "audit:read",
        }
        if tenant_id is not None:
            claims["tid"] = tenant_id
        return jwt.encode(claims, self.key, algorithm="EdDSA", headers={"kid": kid or self.kid})

    def headers(self, roles: list[str], tenant_id: str | None, **kw: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(roles, tenant_id, **kw)}"}


@pytest.fixture(scope="session")
async def mint() -> AsyncIterator[TokenMint]:
    key = Ed25519PrivateKey.generate()
    kid = uuid.uuid4().hex
    jwk = OKPAlgorithm.to_jwk(key.public_key(), as_dict=True)
    jwks_app = FastAPI()

    @jwks_app.get("/v1/auth/jwks.json")
    async def jwks() -> dict[str, Any]:
        return {"keys": [{**jwk, "kid": kid, "alg": "EdDSA", "use": "sig"}]}

    async with serve(jwks_app) as url:
        yield TokenMint(key, kid, f"{url}/v1/auth/jwks.json")


@pytest.fixture
async def audit_db_url(pg_url: str) -> str:
    return await fresh_database(pg_url, "audit")


@pytest.fixture
async def js(nc: Client) -> JetStreamContext:
    """JetStream with an empty AUDIT stream, so a test sees only its own events."""
    stream = nc.jetstream()
    await ensure_stream(stream, streams.AUDIT)
    await ensure_stream(stream, streams.DEAD_LETTER)
    await stream.purge_stream(streams.AUDIT.name)
    return stream


def make_settings(db_url: str, nats_url: str, jwks_url: str, **overrides: Any) -> AuditSettings:
    values: dict[str, Any] = {
        "environment": "test",
        "database_url": db_url,
        "nats_url": nats_url,
        "auth_url": jwks_url.removesuffix("/v1/auth/jwks.json"),
        "key_encryption_key": base64.b64encode(os.urandom(32)).decode(),
        "ingest_durable": f"audit-{uuid.uuid4().hex[:8]}",
        "ingest_retry_delay_s": 0.05,
        "ingest_max_deliver": 3,
        "lag_sample_interval_s": 0.2,
    }
    values.update(overrides)
    return AuditSettings(**values)


@pytest.fixture
def settings(audit_db_url: str, nats_url: str, mint: TokenMint) -> AuditSettings:
    return make_settings(audit_db_url, nats_url, mint.jwks_url)


@dataclass
class AuditApi:
    url: str
    http: httpx.AsyncClient
    settings: AuditSettings
    ctx: AuditContext

    async def wait_for_records(self, count: int, timeout: float = 20) -> None:
        async with asyncio.timeout(timeout):
            while await self.record_count() < count:
                await asyncio.sleep(0.05)

    async def record_count(self) -> int:
        async with self.ctx.transaction() as session:
            query = sa.select(sa.func.count()).select_from(records)
            return int((await session.execute(query)).scalar_one())


@pytest.fixture
async def audit(settings: AuditSettings, js: JetStreamContext) -> AsyncIterator[AuditApi]:
    assert settings.database_url is not None
    db = Database(settings.database_url.get_secret_value())
    ctx = AuditContext(settings, db, KeyWrapper(settings.keyring()))
    async with (
        serve(create_app(settings)) as url,
        httpx.AsyncClient(base_url=url, timeout=10) as http,
    ):
        yield AuditApi(url, http, settings, ctx)
    await db.dispose()


Publish = Callable[[str, dict[str, Any]], Awaitable[str]]


@pytest.fixture
def publish(js: JetStreamContext) -> Publish:
    async def _publish(subject: str, payload: dict[str, Any], msg_id: str | None = None) -> str:
        msg_id = msg_id or str(uuid.uuid4())
        await js.publish(subject, jsonutil.dumps(payload).encode(), headers={"Nats-Msg-Id": msg_id})
        return msg_id

    return _publish


# -- event builders ---------------------------------------------------------------------------

FRAUD_HEADERS = {
    "Gov-Client-Connection-Method": "WEB_APP_VIA_SERVER",
    "Gov-Client-Public-IP": "198.51.100.7",
    "Gov-Client-Device-ID": "beec798b-b366-47fa-b1f8-92cede14a1ce",
    "Gov-Client-User-IDs": "os=jo-bloggs",
    "Gov-Vendor-Version": "mtd-vat=1.0.0",
}


def new_vrn() -> str:
    return str(100_000_000 + int.from_bytes(os.urandom(4), "big") % 899_999_999)


def hmrc_exchange(
    tenant_id: str,
    vrn: str,
    *,
    method: str = "GET",
    endpoint: str = "/organisations/vat/{vrn}/obligations",
    status: int = 200,
    fraud: str = "valid",
    errors: list[Any] | None = None,
    warnings: list[Any] | None = None,
    occurred_at: datetime | None = None,
    **extra: Any,
) -> dict[str, Any]:
    finished = occurred_at or datetime.now(UTC)
    started = finished - timedelta(milliseconds=120)
    path = endpoint.replace("{vrn}", vrn).replace("{periodKey}", "24A1")
    return {
        "tenant_id": tenant_id,
        "vrn": vrn,
        "period_key": "24A1" if "returns" in endpoint else None,
        "submission_id": None,
        "method": method,
        "endpoint": endpoint,
        "path": path,
        "request_headers": {
            **FRAUD_HEADERS,
            "Authorization": "Bearer hmrc-access-token-abcdef",
            "Accept": "application/vnd.hmrc.1.0+json",
        },
        "fraud_validation": {
            "result": fraud,
            "errors": errors or [],
            "warnings": warnings or [],
        },
        "request_body": {"periodKey": "24A1", "vatDueSales": "105.50"}
        if method == "POST"
        else None,
        "response_status": status,
        "response_body": {"formBundleNumber": "256660290587"} if method == "POST" else {"ok": 1},
        "correlation_id": str(uuid.uuid4()),
        "started_at": started.isoformat(),
        "finished_at": finished.isoformat(),
        "duration_ms": 120.5,
        "attempt": 1,
        "trace_id": uuid.uuid4().hex,
        "occurred_at": finished.isoformat(),
        **extra,
    }


def privileged_action(
    tenant_id: str, *, action: str = "user_created", user_id: str | None = None, **details: Any
) -> dict[str, Any]:
    return {
        "action": action,
        "service": "auth",
        "occurred_at": datetime.now(UTC).isoformat(),
        "actor": {"kind": "user", "id": "admin-1", "tenant_id": tenant_id},
        "tenant_id": tenant_id,
        "target": {"type": "user", "id": user_id or str(uuid.uuid4())},
        "details": details,
    }


def state_change(tenant_id: str, vrn: str, submission_id: str, to_state: str) -> dict[str, Any]:
    return {
        "tenant_id": tenant_id,
        "vrn": vrn,
        "period_key": "24A1",
        "submission_id": submission_id,
        "from_state": "queued",
        "to_state": to_state,
        "reason": None,
        "code": None,
        "details": {"formBundleNumber": "256660290587", "netVatDue": "105.50"},
        "occurred_at": datetime.now(UTC).isoformat(),
    }
