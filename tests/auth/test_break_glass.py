"""Break-glass access over real HTTP: auth, and the audit and submission services (which
verify tokens from auth's JWKS and record each use at auth), real PostgreSQL and NATS.

Support staff read no tenant's data by default; under a grant a tenant admin (a person
with MFA) approved, they read one tenant, read-only, until it expires or is revoked; every
request is recorded and reaches the audit log."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import jwt
import pytest

from services.audit.app import create_app as create_audit_app
from services.auth.clients import create_client
from services.submission.app import create_app as create_submission_app
from services.submission.settings import SubmissionSettings
from tests.audit.conftest import make_settings as audit_settings
from tests.auth.conftest import AuthApi, Person, bearer
from tests.conftest import fresh_database, sql
from tests.serving import serve


@dataclass
class Desk:
    """A tenant with its admin (a person with MFA), and a support person with MFA."""

    auth: AuthApi
    audit: httpx.AsyncClient
    submission: httpx.AsyncClient
    tenant: str
    admin: str  # the tenant admin's session token
    support: str  # the support user's session token
    support_id: str

    async def request(self, minutes: int = 60, token: str | None = None) -> httpx.Response:
        return await self.auth.http.post(
            "/v1/break-glass/grants",
            json={
                "tenant_id": self.tenant,
                "reason": "Ticket 4711: the customer's return is stuck",
                "duration_minutes": minutes,
            },
            headers=bearer(token or self.support),
        )

    async def granted(self) -> str:
        """An approved grant's id."""
        r = await self.request()
        assert r.status_code == 201, r.text
        grant = r.json()["id"]
        r = await self.decide(grant, "approve")
        assert r.status_code == 200 and r.json()["status"] == "approved", r.text
        return str(grant)

    async def decide(self, grant: str, verb: str, token: str | None = None) -> httpx.Response:
        return await self.auth.http.post(
            f"/v1/break-glass/grants/{grant}/{verb}", headers=bearer(token or self.admin)
        )

    async def token(self, grant: str) -> httpx.Response:
        return await self.auth.http.post(
            f"/v1/break-glass/grants/{grant}/token", headers=bearer(self.support)
        )

    async def uses(self, grant: str) -> list[dict[str, Any]]:
        r = await self.auth.http.get(
            f"/v1/break-glass/grants/{grant}/uses", headers=bearer(self.admin)
        )
        assert r.status_code == 200, r.text
        return list(r.json())


async def person(auth: AuthApi, tenant: str | None, roles: list[str]) -> tuple[Person, str]:
    """A user (a platform user when `tenant` is None) signed in with TOTP."""
    if tenant is None:
        user = await auth.create_platform_user(roles)
    else:
        user = await auth.create_user(tenant, roles)
    return user, await auth.enrol(user)


@pytest.fixture
async def audit_http(auth: AuthApi, pg_url: str, nats_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The audit service, verifying tokens with this auth's JWKS."""
    settings = audit_settings(
        await fresh_database(pg_url, "audit"), nats_url, f"{auth.url}/v1/auth/jwks.json"
    )
    async with (
        serve(create_audit_app(settings)) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as http,
    ):
        yield http


@pytest.fixture
async def submission_http(
    auth: AuthApi, pg_url: str, nats_url: str
) -> AsyncIterator[httpx.AsyncClient]:
    """The submission service (no workers: only its API is read here)."""
    settings = SubmissionSettings(
        environment="test",
        database_url=await fresh_database(pg_url, "submission"),
        nats_url=nats_url,
        auth_url=auth.url,
        workers=0,
    )
    async with (
        serve(create_submission_app(settings)) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as http,
    ):
        yield http


@pytest.fixture
async def desk(
    auth: AuthApi, audit_http: httpx.AsyncClient, submission_http: httpx.AsyncClient
) -> Desk:
    tenant = await auth.create_tenant()
    _, admin = await person(auth, tenant, ["tenant_admin"])
    support, support_token = await person(auth, None, ["platform_support"])
    return Desk(auth, audit_http, submission_http, tenant, admin, support_token, support.id)


def code(r: httpx.Response) -> str:
    assert r.headers["content-type"] == "application/problem+json", r.text
    return str(r.json()["code"])


async def reads(desk: Desk, token: str) -> list[httpx.Response]:
    """Tenant data in each service: auth's users and connections, the audit log, the
    submission service's webhooks."""
    t = desk.tenant
    return [
        await desk.auth.http.get(f"/v1/tenants/{t}/users", headers=bearer(token)),
        await desk.auth.http.get(f"/v1/connections?tenant_id={t}", headers=bearer(token)),
        await desk.audit.get("/v1/audit/events", params={"tenant_id": t}, headers=bearer(token)),
        await desk.submission.get("/v1/webhooks", headers=bearer(token)),
    ]


async def audit_actions(desk: Desk, auditor: str, want: dict[str, int]) -> dict[str, int]:
    """Counts of the tenant's break-glass actions in the audit service, once `want` is met."""
    seen: dict[str, int] = {}
    async with asyncio.timeout(30):
        while True:
            r = await desk.audit.get(
                "/v1/audit/events",
                params={"kind": "privileged_action", "limit": 500},
                headers=bearer(auditor),
            )
            assert r.status_code == 200, r.text
            seen = {}
            for item in r.json()["items"]:
                action = item.get("action") or item.get("payload", {}).get("action")
                if str(action).startswith("break_glass_"):
                    seen[action] = seen.get(action, 0) + 1
            if all(seen.get(a, 0) >= n for a, n in want.items()):
                return seen
            await asyncio.sleep(0.3)


async def test_support_reads_a_tenant_only_under_an_approved_grant(desk: Desk) -> None:
    # Without a grant, support reads nothing of the tenant in any service.
    for r in await reads(desk, desk.support):
        assert r.status_code == 403 and code(r) == "FORBIDDEN", r.text

    r = await desk.request()
    assert r.status_code == 201, r.text
    grant = r.json()
    assert grant["status"] == "pending" and grant["requested_by"] == desk.support_id
    r = await desk.token(grant["id"])
    assert r.status_code == 403 and code(r) == "BREAK_GLASS_NOT_APPROVED"

    r = await desk.decide(grant["id"], "approve")
    assert r.status_code == 200, r.text
    approved = r.json()
    assert approved["status"] == "approved" and approved["expires_at"] is not None

    r = await desk.token(grant["id"])
    assert r.status_code == 200, r.text
    token = r.json()["access_token"]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["tid"] == desk.tenant and claims["bg"] == grant["id"]
    assert claims["roles"] == ["break_glass"]
    assert set(claims["scope"].split()) == {"vat:read", "connections:read", "audit:read"}
    assert claims["exp"] - claims["iat"] <= desk.auth.settings.break_glass_token_ttl_seconds

    # Reads work in every service, inside the granted tenant only.
    for r in await reads(desk, token):
        assert r.status_code == 200, r.text
    other = await desk.auth.create_tenant()
    r = await desk.auth.http.get(f"/v1/tenants/{other}/users", headers=bearer(token))
    assert r.status_code == 403 and code(r) == "FORBIDDEN"
    r = await desk.audit.get("/v1/audit/events", params={"tenant_id": other}, headers=bearer(token))
    assert r.status_code == 403 and code(r) == "FORBIDDEN"

    # Writes are refused in every service, and still recorded.
    r = await desk.auth.http.post(
        f"/v1/tenants/{desk.tenant}/users",
        json={"email": "x@example.com", "name": "X", "roles": ["viewer"], "password": "p" * 16},
        headers=bearer(token),
    )
    assert r.status_code == 403 and code(r) == "BREAK_GLASS_READ_ONLY"
    r = await desk.audit.post(
        "/v1/audit/erasures", json={"data_subject": "user:x"}, headers=bearer(token)
    )
    assert r.status_code == 403 and code(r) == "BREAK_GLASS_READ_ONLY"
    r = await desk.submission.post(
        "/v1/webhooks", json={"url": "https://hooks.example.com/x"}, headers=bearer(token)
    )
    assert r.status_code == 403 and code(r) == "BREAK_GLASS_READ_ONLY"

    uses = await desk.uses(grant["id"])
    assert [(u["service"], u["method"], u["refusal"]) for u in uses] == [
        ("auth", "GET", None),
        ("auth", "GET", None),
        ("audit", "GET", None),
        ("submission", "GET", None),
        ("auth", "GET", None),
        ("audit", "GET", None),
        ("auth", "POST", "BREAK_GLASS_READ_ONLY"),
        ("audit", "POST", "BREAK_GLASS_READ_ONLY"),
        ("submission", "POST", "BREAK_GLASS_READ_ONLY"),
    ]
    assert uses[0]["path"] == f"/v1/tenants/{desk.tenant}/users"
    assert all(u["request_id"] for u in uses)

    # The tenant admin revokes: the token already issued stops working at once, everywhere.
    r = await desk.decide(grant["id"], "revoke")
    assert r.status_code == 200 and r.json()["status"] == "revoked", r.text
    for r in await reads(desk, token):
        assert r.status_code == 403 and code(r) == "BREAK_GLASS_REVOKED", r.text
    r = await desk.token(grant["id"])
    assert r.status_code == 403 and code(r) == "BREAK_GLASS_REVOKED"
    after = await desk.uses(grant["id"])
    assert [u["refusal"] for u in after[len(uses) :]] == ["BREAK_GLASS_REVOKED"] * 4

    # Every use and every step reached the tenant's audit log.
    auditor = await desk.auth.token_for_roles(desk.tenant, ["auditor"])
    seen = await audit_actions(
        desk,
        auditor,
        {
            "break_glass_requested": 1,
            "break_glass_approved": 1,
            "break_glass_token_issued": 1,
            "break_glass_used": len(after),
            "break_glass_revoked": 1,
        },
    )
    assert seen["break_glass_used"] == len(after)

    r = await desk.auth.http.get("/v1/break-glass/grants", headers=bearer(desk.admin))
    assert r.status_code == 200
    assert [(g["id"], g["status"]) for g in r.json()] == [(grant["id"], "revoked")]


async def test_an_expired_grant_stops_its_tokens(desk: Desk) -> None:
    grant = await desk.granted()
    r = await desk.token(grant)
    assert r.status_code == 200, r.text
    token = r.json()["access_token"]
    grant_end = r.json()["grant_expires_at"]
    assert r.json()["expires_in"] <= desk.auth.settings.break_glass_token_ttl_seconds
    exp = jwt.decode(token, options={"verify_signature": False})["exp"]
    assert exp <= datetime.fromisoformat(grant_end).timestamp()

    # The grant's end passes (moved into the past rather than waited for).
    await sql(
        desk.auth.settings.database_url.get_secret_value(),  # type: ignore[union-attr]
        f"UPDATE break_glass_grants SET expires_at = now() - interval '1 second' "
        f"WHERE id = '{grant}'",
    )
    for r in await reads(desk, token):
        assert r.status_code == 403 and code(r) == "BREAK_GLASS_EXPIRED", r.text
    r = await desk.token(grant)
    assert r.status_code == 403 and code(r) == "BREAK_GLASS_EXPIRED"
    r = await desk.decide(grant, "revoke")
    assert r.status_code == 409 and code(r) == "BREAK_GLASS_NOT_REVOCABLE"
    r = await desk.auth.http.get(f"/v1/break-glass/grants/{grant}", headers=bearer(desk.support))
    assert r.status_code == 200 and r.json()["status"] == "expired"


async def test_only_a_person_administering_the_tenant_decides(desk: Desk) -> None:
    r = await desk.request()
    grant = r.json()["id"]
    other = await desk.auth.create_tenant()
    _, other_admin = await person(desk.auth, other, ["tenant_admin"])
    r = await desk.decide(grant, "approve", other_admin)
    assert r.status_code == 404 and code(r) == "BREAK_GLASS_GRANT_NOT_FOUND"
    api_admin = await desk.auth.token_for_roles(desk.tenant, ["tenant_admin"])
    r = await desk.decide(grant, "approve", api_admin)
    assert r.status_code == 403 and code(r) == "BREAK_GLASS_PERSON_REQUIRED"
    _, viewer = await person(desk.auth, desk.tenant, ["viewer"])
    r = await desk.decide(grant, "approve", viewer)
    assert r.status_code == 403 and code(r) == "FORBIDDEN"
    r = await desk.decide(grant, "approve", desk.support)
    assert r.status_code == 403 and code(r) == "FORBIDDEN"

    r = await desk.decide(grant, "deny")
    assert r.status_code == 200 and r.json()["status"] == "denied"
    r = await desk.decide(grant, "approve")
    assert r.status_code == 409 and code(r) == "BREAK_GLASS_ALREADY_DECIDED"
    r = await desk.token(grant)
    assert r.status_code == 403 and code(r) == "BREAK_GLASS_NOT_APPROVED"


async def test_requests_are_bounded_and_made_by_support_people(desk: Desk) -> None:
    limit = desk.auth.settings.break_glass_max_seconds // 60
    r = await desk.request(minutes=limit + 1)
    assert r.status_code == 422 and code(r) == "BREAK_GLASS_DURATION_TOO_LONG"
    assert (await desk.request(minutes=limit)).status_code == 201

    # A support API client is nobody accountable; tenant roles do not request at all.
    assert desk.auth.app is not None
    client = await create_client(
        desk.auth.app.state.auth, None, tenant_id=None, name="bot", roles=["platform_support"]
    )
    bot = await desk.auth.client_token(client.client.id, client.client_secret)
    r = await desk.request(token=bot)
    assert r.status_code == 403 and code(r) == "BREAK_GLASS_PERSON_REQUIRED"
    r = await desk.request(token=desk.admin)
    assert r.status_code == 403 and code(r) == "FORBIDDEN"

    # Nobody is given the break-glass role or a service role as a person.
    admin = await desk.auth.admin_token()
    r = await desk.auth.http.post(
        f"/v1/tenants/{desk.tenant}/clients",
        json={"name": "x", "roles": ["break_glass"]},
        headers=bearer(admin),
    )
    assert r.status_code == 422 and code(r) == "ROLE_NOT_ASSIGNABLE"
    for role in ("break_glass", "platform_service"):
        r = await desk.auth.http.post(
            "/v1/platform/users",
            json={
                "email": f"p{uuid.uuid4().hex[:6]}@example.com",
                "name": "P",
                "roles": [role],
                "password": "a-long-enough-passphrase",
            },
            headers=bearer(admin),
        )
        assert r.status_code == 422 and code(r) == "ROLE_NOT_ASSIGNABLE", role

    # Support sees its own requests only; a token for someone else's grant is not there.
    r = await desk.auth.http.get("/v1/break-glass/grants", headers=bearer(desk.support))
    assert r.status_code == 200 and len(r.json()) == 1
    _, colleague = await person(desk.auth, None, ["platform_support"])
    grant = await desk.granted()
    r = await desk.auth.http.post(
        f"/v1/break-glass/grants/{grant}/token", headers=bearer(colleague)
    )
    assert r.status_code == 404 and code(r) == "BREAK_GLASS_GRANT_NOT_FOUND"
