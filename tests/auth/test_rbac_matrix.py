"""Role by endpoint: every protected endpoint refuses every role it should refuse (403
FORBIDDEN), lets the roles it should through (neither 401 nor FORBIDDEN: a break-glass
decision may still want a person, not a client), refuses callers without a token (401),
and keeps tenant roles inside their own tenant. Platform support reads no tenant's data:
that takes a break-glass grant (tests/auth/test_break_glass.py)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from services.auth.clients import create_client
from tests.auth.conftest import AuthApi, bearer

TENANT_ROLES = ["tenant_admin", "preparer", "submitter", "viewer", "auditor"]
PLATFORM_ROLES = ["platform_admin", "platform_support", "platform_service"]
ALL_ROLES = TENANT_ROLES + PLATFORM_ROLES
READERS = {"platform_admin", "tenant_admin", "auditor"}
MANAGERS = {"platform_admin", "tenant_admin"}
BREAK_GLASS_READERS = {"tenant_admin", "auditor", "platform_support"}


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    allowed: set[str]
    body: Callable[[], Any] | None = None


def endpoints(ids: dict[str, str]) -> list[Endpoint]:
    t, g = ids["tenant"], ids["grant"]
    return [
        Endpoint(
            "POST", "/v1/tenants", {"platform_admin"}, lambda: {"name": f"t-{uuid.uuid4().hex[:8]}"}
        ),
        Endpoint("GET", f"/v1/tenants/{t}", READERS),
        Endpoint(
            "POST", f"/v1/tenants/{t}/clients", MANAGERS, lambda: {"name": "c", "roles": ["viewer"]}
        ),
        Endpoint("GET", f"/v1/tenants/{t}/clients", READERS),
        Endpoint("POST", f"/v1/tenants/{t}/clients/{ids['client']}/secret", MANAGERS),
        Endpoint(
            "PUT",
            f"/v1/tenants/{t}/clients/{ids['client']}/roles",
            MANAGERS,
            lambda: {"roles": ["viewer"]},
        ),
        Endpoint(
            "POST",
            f"/v1/tenants/{t}/users",
            MANAGERS,
            lambda: {
                "email": f"u{uuid.uuid4().hex[:8]}@example.com",
                "name": "U",
                "roles": ["viewer"],
                "password": "a-long-enough-passphrase",
            },
        ),
        Endpoint("GET", f"/v1/tenants/{t}/users", READERS),
        Endpoint(
            "PUT",
            f"/v1/tenants/{t}/users/{ids['user']}/roles",
            MANAGERS,
            lambda: {"roles": ["viewer"]},
        ),
        Endpoint(
            "POST", "/v1/connections", {"tenant_admin", "submitter"}, lambda: {"vrn": "100000001"}
        ),
        Endpoint(
            "GET",
            f"/v1/connections?tenant_id={t}",
            {"tenant_admin", "preparer", "submitter", "viewer", "auditor"},
        ),
        Endpoint("DELETE", f"/v1/connections/{ids['connection']}?tenant_id={t}", {"tenant_admin"}),
        Endpoint(
            "POST",
            "/internal/v1/hmrc/access-token",
            {"platform_service"},
            lambda: {"tenant_id": t, "vrn": "100000001"},
        ),
        Endpoint("GET", f"/internal/v1/users/{ids['user']}/fraud-facts", {"platform_service"}),
        # Only a signed-in user enrols an authenticator; no client role may.
        Endpoint("POST", "/v1/auth/mfa/totp", set()),
        Endpoint(
            "POST",
            "/v1/platform/users",
            {"platform_admin"},
            lambda: {
                "email": f"s{uuid.uuid4().hex[:8]}@example.com",
                "name": "S",
                "roles": ["platform_support"],
                "password": "a-long-enough-passphrase",
            },
        ),
        Endpoint(
            "POST",
            "/v1/break-glass/grants",
            {"platform_support"},
            lambda: {"tenant_id": t, "reason": "a ticket number", "duration_minutes": 5},
        ),
        Endpoint("GET", "/v1/break-glass/grants", BREAK_GLASS_READERS),
        Endpoint("GET", f"/v1/break-glass/grants/{g}", BREAK_GLASS_READERS),
        Endpoint("GET", f"/v1/break-glass/grants/{g}/uses", BREAK_GLASS_READERS),
        Endpoint("POST", f"/v1/break-glass/grants/{g}/approve", {"tenant_admin"}),
        Endpoint("POST", f"/v1/break-glass/grants/{g}/deny", {"tenant_admin"}),
        Endpoint("POST", f"/v1/break-glass/grants/{g}/revoke", {"tenant_admin"}),
        Endpoint("POST", f"/v1/break-glass/grants/{g}/token", {"platform_support"}),
        # Only a break-glass token records a use; no role does.
        Endpoint(
            "POST",
            "/internal/v1/break-glass/uses",
            set(),
            lambda: {"service": "x", "method": "GET", "path": "/"},
        ),
    ]


async def role_tokens(auth: AuthApi, tenant: str) -> dict[str, str]:
    tokens = {role: await auth.token_for_roles(tenant, [role]) for role in TENANT_ROLES}
    tokens["platform_admin"] = await auth.admin_token()
    tokens["platform_service"] = await auth.gateway_token()
    assert auth.app is not None
    support = await create_client(
        auth.app.state.auth, None, tenant_id=None, name="support", roles=["platform_support"]
    )
    tokens["platform_support"] = await auth.client_token(support.client.id, support.client_secret)
    return tokens


async def call(auth: AuthApi, endpoint: Endpoint, token: str | None) -> Any:
    return await auth.http.request(
        endpoint.method,
        endpoint.path,
        json=endpoint.body() if endpoint.body else None,
        headers=bearer(token) if token else {},
    )


async def test_every_endpoint_refuses_every_role_it_should(auth: AuthApi) -> None:
    tenant = await auth.create_tenant()
    tokens = await role_tokens(auth, tenant)
    target_client, _ = await auth.create_client(tenant, ["viewer"])
    target_user = await auth.create_user(tenant, ["viewer"])
    r = await auth.http.post(
        "/v1/connections", json={"vrn": "100000002"}, headers=bearer(tokens["tenant_admin"])
    )
    assert r.status_code == 201, r.text
    ids = {
        "tenant": tenant,
        "client": target_client,
        "user": target_user.id,
        "connection": r.json()["id"],
        "grant": str(uuid.uuid4()),
    }

    outcomes: dict[tuple[str, str], int] = {}
    # Refusals first, so nothing an allowed role does (revoking, say) changes what follows.
    for endpoint in endpoints(ids):
        for role in sorted(set(ALL_ROLES) - endpoint.allowed):
            r = await call(auth, endpoint, tokens[role])
            outcomes[(f"{endpoint.method} {endpoint.path}", role)] = r.status_code
            assert r.status_code == 403, (endpoint.path, role, r.text)
            assert r.json()["code"] == "FORBIDDEN"
        r = await call(auth, endpoint, None)
        assert r.status_code == 401, (endpoint.path, r.text)
    for endpoint in endpoints(ids):
        for role in sorted(endpoint.allowed):
            r = await call(auth, endpoint, tokens[role])
            outcomes[(f"{endpoint.method} {endpoint.path}", role)] = r.status_code
            assert r.status_code != 401, (endpoint.path, role, r.text)
            assert r.status_code != 403 or r.json()["code"] != "FORBIDDEN", (endpoint.path, role)
            assert r.status_code < 500, (endpoint.path, role, r.text)
    assert len(outcomes) == len(endpoints(ids)) * len(ALL_ROLES)


async def test_tenant_roles_stay_inside_their_tenant(auth: AuthApi) -> None:
    home, other = await auth.create_tenant(), await auth.create_tenant()
    admin = await auth.token_for_roles(home, ["tenant_admin"])
    other_admin = await auth.token_for_roles(other, ["tenant_admin"])
    other_user = await auth.create_user(other, ["viewer"])
    r = await auth.http.post(
        "/v1/connections", json={"vrn": "100000003"}, headers=bearer(other_admin)
    )
    other_connection = r.json()["id"]
    for method, path, body in (
        ("GET", f"/v1/tenants/{other}", None),
        ("GET", f"/v1/tenants/{other}/users", None),
        ("POST", f"/v1/tenants/{other}/clients", {"name": "x", "roles": ["tenant_admin"]}),
        ("PUT", f"/v1/tenants/{other}/users/{other_user.id}/roles", {"roles": ["tenant_admin"]}),
        ("GET", f"/v1/connections?tenant_id={other}", None),
        ("DELETE", f"/v1/connections/{other_connection}?tenant_id={other}", None),
    ):
        r = await auth.http.request(method, path, json=body, headers=bearer(admin))
        assert r.status_code == 403, (path, r.text)
    # Without naming the tenant, the other tenant's connection is simply not there.
    r = await auth.http.delete(f"/v1/connections/{other_connection}", headers=bearer(admin))
    assert r.status_code == 404
    listed = await auth.http.get("/v1/connections", headers=bearer(other_admin))
    assert [c["status"] for c in listed.json()] == ["pending"]


async def test_a_tenant_admin_cannot_hand_out_platform_roles(auth: AuthApi) -> None:
    tenant = await auth.create_tenant()
    admin = await auth.token_for_roles(tenant, ["tenant_admin"])
    for role in PLATFORM_ROLES:
        r = await auth.http.post(
            f"/v1/tenants/{tenant}/clients",
            json={"name": "x", "roles": [role]},
            headers=bearer(admin),
        )
        assert r.status_code == 422
        assert r.json()["code"] == "ROLE_NOT_ASSIGNABLE"


async def test_public_endpoints_need_no_token(auth: AuthApi) -> None:
    assert (await auth.http.get("/v1/auth/jwks.json")).status_code == 200
    r = await auth.http.get("/v1/connections/callback")
    assert r.status_code == 400 and r.json()["code"] == "OAUTH_STATE_INVALID"
