"""Every public service served in-process over real HTTP, on real PostgreSQL and NATS, with
the HMRC simulator behind a recording proxy: the gateway talks to HMRC only through it."""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from services.audit.app import create_app as create_audit
from services.audit.settings import AuditSettings
from services.hmrc_gateway.app import create_app as create_gateway
from services.obligations.app import create_app as create_obligations
from services.obligations.settings import ObligationsSettings
from services.submission.app import create_app as create_submission
from services.submission.settings import SubmissionSettings
from tests.auth.conftest import GATEWAY_ID, AuthApi, _serve_auth, make_settings
from tests.auth.simulator import Simulator, connect_vrns, simulator
from tests.conftest import fresh_database
from tests.contracts.recorder import Recorder
from tests.hmrc_gateway.conftest import gateway_settings
from tests.serving import serve


@dataclass
class Tenant:
    id: str
    vrns: list[str]
    tokens: dict[str, str] = field(default_factory=dict)  # role -> access token


@dataclass
class Stack:
    sim: Simulator
    auth: AuthApi
    hmrc: Recorder
    urls: dict[str, str]  # service -> base URL
    apps: dict[str, Any]
    service_secrets: dict[str, str]

    async def tenant(self, vrns: int = 1, roles: tuple[str, ...] = ("submitter",)) -> Tenant:
        """A tenant with `vrns` VRNs connected through HMRC's consent form, and a token per role."""
        tenant_id = await self.auth.create_tenant()
        connected = await connect_vrns(self.auth, self.sim, tenant_id, vrns)
        tokens = {role: await self.auth.token_for_roles(tenant_id, [role]) for role in roles}
        return Tenant(tenant_id, connected, tokens)

    async def service_token(self, client_id: str) -> str:
        return await self.auth.client_token(client_id, self.service_secrets[client_id])


@pytest.fixture(scope="module")
async def stack(
    pg_url: str, nats_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    secret = {name: secrets.token_urlsafe(24) for name in (GATEWAY_ID, "obligations", "submission")}
    async with AsyncExitStack() as es:
        sim = await es.enter_async_context(simulator(pg_url))
        recorder = Recorder(sim.url)
        hmrc_url = await es.enter_async_context(serve(recorder.app()))  # type: ignore[arg-type]
        auth_settings = make_settings(
            await fresh_database(pg_url, "auth"),
            nats_url,
            tmp_path_factory.mktemp("auth"),
            hmrc_base_url=sim.url,
            hmrc_client_id=sim.client_id,
            hmrc_client_secret=sim.client_secret,
            service_clients=",".join(f"{k}:{v}" for k, v in secret.items()),
        )
        auth = await es.enter_async_context(_serve_auth(auth_settings))
        gateway = create_gateway(
            gateway_settings(
                await fresh_database(pg_url, "hmrc_gateway"),
                nats_url,
                hmrc_url,
                auth.url,
                client_secret=secret[GATEWAY_ID],
                read_timeout=10.0,
                submit_timeout=10.0,
            )
        )
        gateway_url = await es.enter_async_context(serve(gateway))
        obligations = create_obligations(
            ObligationsSettings(
                environment="test",
                database_url=await fresh_database(pg_url, "obligations"),
                nats_url=nats_url,
                auth_url=auth.url,
                client_id="obligations",
                client_secret=secret["obligations"],
                hmrc_gateway_url=gateway_url,
                connections_ttl_seconds=0,
            )
        )
        obligations_url = await es.enter_async_context(serve(obligations))
        submission = create_submission(
            SubmissionSettings(
                environment="test",
                database_url=SecretStr(await fresh_database(pg_url, "submission")),
                nats_url=nats_url,
                auth_url=auth.url,
                client_id="submission",
                client_secret=SecretStr(secret["submission"]),
                hmrc_gateway_url=gateway_url,
                obligations_url=obligations_url,
                workers=1,
                poll_seconds=0.5,
                webhook_keys=SecretStr(base64.b64encode(os.urandom(32)).decode()),
            )
        )
        submission_url = await es.enter_async_context(serve(submission))
        audit = create_audit(
            AuditSettings(
                environment="test",
                database_url=await fresh_database(pg_url, "audit"),
                nats_url=nats_url,
                auth_url=auth.url,
                key_encryption_key=base64.b64encode(os.urandom(32)).decode(),
                ingest_durable=f"audit-contracts-{secrets.token_hex(4)}",
            )
        )
        audit_url = await es.enter_async_context(serve(audit))
        assert auth.app is not None
        yield Stack(
            sim=sim,
            auth=auth,
            hmrc=recorder,
            urls={
                "auth": auth.url,
                "hmrc_gateway": gateway_url,
                "obligations": obligations_url,
                "submission": submission_url,
                "audit": audit_url,
                "hmrc_sandbox": sim.url,
            },
            apps={
                "auth": auth.app,
                "hmrc_gateway": gateway,
                "obligations": obligations,
                "submission": submission,
                "audit": audit,
                "hmrc_sandbox": sim.app,
            },
            service_secrets=secret,
        )


@pytest.fixture(scope="module")
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as client:
        yield client
