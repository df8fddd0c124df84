"""Abuse limits every service gets from the app factory, over real HTTP: body size, a
per-client rate with Retry-After, security headers, and CORS only when configured."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import APIRouter, Depends
from pydantic import BaseModel, SecretStr

from services.common.security.jwt_verify import (
    Principal,
    StaticKeySource,
    TokenVerifier,
    authenticated,
)
from services.common.service import ServiceSpec, build_app
from services.common.settings import ServiceSettings
from tests.conftest import fresh_database
from tests.serving import serve

router = APIRouter()
Caller = Annotated[Principal, Depends(authenticated)]
KEY = Ed25519PrivateKey.generate()


class Note(BaseModel):
    text: str


@router.post("/v1/notes")
async def post_note(note: Note, _: Caller) -> dict[str, int]:
    return {"length": len(note.text)}


@router.get("/v1/me")
async def me(principal: Caller) -> dict[str, Any]:
    return {"subject": principal.subject}


SPEC = ServiceSpec(name="limits", title="Limits", settings_cls=ServiceSettings, routers=[router])


def token(roles: list[str], subject: str) -> dict[str, str]:
    now = int(time.time())
    claims = {
        "sub": subject,
        "typ": "client",
        "iss": "mtd-vat-auth",
        "aud": "mtd-vat",
        "iat": now,
        "exp": now + 300,
        "roles": roles,
        "tid": str(uuid.uuid4()),
    }
    signed = jwt.encode(claims, KEY, algorithm="EdDSA", headers={"kid": "k1"})
    return {"Authorization": f"Bearer {signed}"}


async def serve_with(pg_url: str, nats_url: str, **settings: Any) -> Any:
    values = ServiceSettings(
        database_url=SecretStr(await fresh_database(pg_url, "submission")),
        nats_url=nats_url,
        max_body_bytes=4096,
        client_rate_per_second=2,
        client_rate_burst=3,
        **settings,
    )
    app = build_app(SPEC, values)
    app.state.token_verifier = TokenVerifier(
        StaticKeySource(lambda: {"k1": KEY.public_key()}),
        issuer="mtd-vat-auth",
        audience="mtd-vat",
    )
    return serve(app)


@pytest.fixture(scope="module")
async def base_url(pg_url: str, nats_url: str) -> AsyncIterator[str]:
    async with await serve_with(pg_url, nats_url) as url:
        yield url


async def test_a_body_over_the_limit_is_refused_declared_or_streamed(base_url: str) -> None:
    headers = {**token(["submitter"], "body-client"), "content-type": "application/json"}
    async with httpx.AsyncClient(base_url=base_url) as client:
        ok = await client.post("/v1/notes", json={"text": "x" * 100}, headers=headers)
        assert ok.status_code == 200, ok.text
        big = await client.post("/v1/notes", json={"text": "x" * 10_000}, headers=headers)
        assert big.status_code == 413
        assert big.headers["content-type"] == "application/problem+json"
        assert big.json()["code"] == "PAYLOAD_TOO_LARGE"

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it comes
            yield b'{"text": "'
            for _ in range(10):
                yield b"y" * 1000
            yield b'"}'

        streamed = await client.post("/v1/notes", content=chunks(), headers=headers)
        assert streamed.status_code == 413
        assert streamed.json()["code"] == "PAYLOAD_TOO_LARGE"


async def test_one_client_is_limited_others_and_platform_services_are_not(base_url: str) -> None:
    runaway = token(["submitter"], "runaway")
    async with httpx.AsyncClient(base_url=base_url) as client:
        codes = [(await client.get("/v1/me", headers=runaway)).status_code for _ in range(5)]
        assert codes[:3] == [200, 200, 200] and 429 in codes[3:]
        limited = await client.get("/v1/me", headers=runaway)
        assert limited.status_code == 429
        assert limited.json()["code"] == "RATE_LIMITED"
        assert int(limited.headers["retry-after"]) >= 1
        # Another client has its own bucket; a platform service has none.
        assert (await client.get("/v1/me", headers=token(["submitter"], "calm"))).status_code == 200
        service = token(["platform_service"], "submission")
        codes = [(await client.get("/v1/me", headers=service)).status_code for _ in range(10)]
        assert set(codes) == {200}


async def test_security_headers_on_every_answer_and_no_cors_by_default(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        r = await client.get("/v1/me", headers={"Origin": "https://evil.example"})
        assert r.status_code == 401
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["content-security-policy"].startswith("default-src 'none'")
        assert r.headers["cache-control"] == "no-store"
        assert "access-control-allow-origin" not in r.headers
        pre = await client.options(
            "/v1/me",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
        )
        assert "access-control-allow-origin" not in pre.headers


async def test_cors_answers_only_the_configured_origins(pg_url: str, nats_url: str) -> None:
    async with (
        await serve_with(pg_url, nats_url, cors_origins=["https://app.example"]) as url,
        httpx.AsyncClient(base_url=url) as client,
    ):
        ok = await client.options(
            "/v1/me",
            headers={"Origin": "https://app.example", "Access-Control-Request-Method": "GET"},
        )
        assert ok.headers["access-control-allow-origin"] == "https://app.example"
        other = await client.options(
            "/v1/me",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
        )
        assert "access-control-allow-origin" not in other.headers
