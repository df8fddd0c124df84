"""API clients: client credentials, tokens other services verify from the JWKS, secret
rotation, brute-force lockout."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import jwt
import pytest

from services.common.errors import ProblemError
from services.common.security.jwt_verify import JwksKeySource, TokenVerifier
from tests.auth.conftest import AuthApi, ServeAuth, bearer, make_settings


def verifier_for(auth: AuthApi) -> TokenVerifier:
    return TokenVerifier(
        JwksKeySource(auth.url + "/v1/auth/jwks.json"),
        issuer=auth.settings.issuer,
        audience=auth.settings.audience,
    )


async def test_client_token_carries_tenant_roles_and_scopes_and_verifies_from_jwks(
    auth: AuthApi,
) -> None:
    tenant = await auth.create_tenant()
    client_id, secret = await auth.create_client(tenant, ["preparer", "viewer"])
    r = await auth.http.post(
        "/v1/auth/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == auth.settings.access_token_ttl_seconds
    header = jwt.get_unverified_header(body["access_token"])
    assert header["alg"] == "EdDSA"
    jwks = (await auth.http.get("/v1/auth/jwks.json")).json()
    assert [k["kid"] for k in jwks["keys"]] == [header["kid"]]
    assert "d" not in jwks["keys"][0]  # public half only

    principal = await verifier_for(auth).verify(body["access_token"])
    assert principal.subject == client_id
    assert principal.kind == "client"
    assert principal.tenant_id == tenant
    assert principal.roles == {"preparer", "viewer"}
    assert {"vat:read", "vat:prepare"} <= principal.scopes
    assert "vat:submit" not in principal.scopes

    me = await auth.http.get("/v1/auth/me", headers=bearer(body["access_token"]))
    assert me.json()["tenant_id"] == tenant


async def test_http_basic_client_authentication_is_accepted(auth: AuthApi) -> None:
    tenant = await auth.create_tenant()
    client_id, secret = await auth.create_client(tenant, ["viewer"])
    r = await auth.http.post(
        "/v1/auth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
    )
    assert r.status_code == 200, r.text


async def test_wrong_or_unknown_credentials_are_refused_alike(auth: AuthApi) -> None:
    tenant = await auth.create_tenant()
    client_id, _ = await auth.create_client(tenant, ["viewer"])
    for cid in (client_id, "mtd_doesnotexist"):
        r = await auth.http.post(
            "/v1/auth/token",
            data={"grant_type": "client_credentials", "client_id": cid, "client_secret": "nope"},
        )
        assert r.status_code == 401
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["code"] == "INVALID_CLIENT"
    r = await auth.http.post(
        "/v1/auth/token", data={"grant_type": "password", "client_id": client_id}
    )
    assert r.status_code == 400
    assert r.json()["code"] == "UNSUPPORTED_GRANT_TYPE"


async def test_forged_expired_and_garbage_tokens_are_refused(auth: AuthApi) -> None:
    tenant = await auth.create_tenant()
    good = await auth.token_for_roles(tenant, ["tenant_admin"])
    claims = jwt.decode(good, options={"verify_signature": False})
    header = jwt.get_unverified_header(good)
    forged = jwt.encode(
        {**claims, "roles": ["platform_admin"]},
        "x" * 32,
        algorithm="HS256",
        headers={"kid": header["kid"]},
    )
    tampered = good.rsplit(".", 1)[0] + ".AAAA"
    for token, code in (
        (forged, "INVALID_TOKEN"),
        (tampered, "INVALID_TOKEN"),
        ("garbage", "INVALID_TOKEN"),
    ):
        r = await auth.http.post("/v1/tenants", json={"name": "x"}, headers=bearer(token))
        assert r.status_code == 401, token
        assert r.json()["code"] == code
    r = await auth.http.post("/v1/tenants", json={"name": "x"})
    assert r.status_code == 401
    assert r.json()["code"] == "NO_TOKEN"

    assert auth.app is not None
    key = auth.app.state.auth.keys.signing.current
    expired = jwt.encode(
        {**claims, "exp": claims["iat"] - 3600},
        key.private_key,
        algorithm="EdDSA",
        headers={"kid": key.kid},
    )
    with pytest.raises(ProblemError) as caught:
        await verifier_for(auth).verify(expired)
    assert caught.value.code == "TOKEN_EXPIRED"


async def test_secret_rotation_shows_new_secret_once_and_old_one_lapses(
    serve_auth: ServeAuth, auth_db_url: str, nats_url: str, tmp_path: Path
) -> None:
    settings = make_settings(auth_db_url, nats_url, tmp_path, client_secret_grace_seconds=0)
    async with serve_auth(settings) as api:
        tenant = await api.create_tenant()
        client_id, old = await api.create_client(tenant, ["tenant_admin"])
        admin = await api.client_token(client_id, old)
        r = await api.http.post(
            f"/v1/tenants/{tenant}/clients/{client_id}/secret", headers=bearer(admin)
        )
        assert r.status_code == 200, r.text
        new = r.json()["client_secret"]
        assert new != old
        await api.client_token(client_id, new)
        r = await api.http.post(
            "/v1/auth/token",
            data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": old},
        )
        assert r.status_code == 401
        listed = await api.http.get(f"/v1/tenants/{tenant}/clients", headers=bearer(admin))
        assert listed.json()[0]["secret_rotated_at"] is not None
        assert "client_secret" not in listed.text


async def test_rotated_secret_keeps_working_during_grace(auth: AuthApi) -> None:
    tenant = await auth.create_tenant()
    client_id, old = await auth.create_client(tenant, ["tenant_admin"])
    admin = await auth.admin_token()
    r = await auth.http.post(
        f"/v1/tenants/{tenant}/clients/{client_id}/secret", headers=bearer(admin)
    )
    new = r.json()["client_secret"]
    auth.remember(new)
    await auth.client_token(client_id, old)
    await auth.client_token(client_id, new)


async def test_brute_force_locks_the_client_even_for_the_right_secret(auth: AuthApi) -> None:
    tenant = await auth.create_tenant()
    client_id, secret = await auth.create_client(tenant, ["viewer"])

    async def attempt(candidate: str) -> httpx.Response:
        return await auth.http.post(
            "/v1/auth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": client_id,
                "client_secret": candidate,
            },
        )

    statuses = [(await attempt(f"guess-{n}")).status_code for n in range(5)]
    assert statuses == [401] * 5
    locked = await attempt(secret)
    assert locked.status_code == 429
    assert locked.json()["code"] == "TOO_MANY_ATTEMPTS"
    assert 0 < int(locked.headers["Retry-After"]) <= auth.settings.lockout_seconds
    # A different client is unaffected.
    other_id, other_secret = await auth.create_client(tenant, ["viewer"])
    await auth.client_token(other_id, other_secret)


async def test_concurrent_guesses_cannot_outrun_the_lockout(auth: AuthApi) -> None:
    tenant = await auth.create_tenant()
    client_id, _ = await auth.create_client(tenant, ["viewer"])
    responses = await asyncio.gather(
        *(
            auth.http.post(
                "/v1/auth/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": client_id,
                    "client_secret": f"g{n}",
                },
            )
            for n in range(20)
        )
    )
    assert all(r.status_code in (401, 429) for r in responses)
    later = [
        (
            await auth.http.post(
                "/v1/auth/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": client_id,
                    "client_secret": f"h{n}",
                },
            )
        ).status_code
        for n in range(3)
    ]
    assert later == [429, 429, 429]
