"""HMRC connections end to end against the HMRC simulator over real HTTP: grant, deny,
expired and replayed `state`, a wrong PKCE verifier, an expired access token, refresh,
`invalid_grant`, revocation, and the status a tenant sees."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx

from services.auth.hashing import sha256_hex
from tests.auth.conftest import AuthApi, ServeAuth, bearer
from tests.auth.simulator import (
    Simulator,
    auth_with_simulator,
    connect,
    expire_access_token,
    hmrc_token,
    start_connection,
)
from tests.conftest import sql


async def db_sql(auth: AuthApi, statement: str) -> None:
    url = auth.settings.database_url
    assert url is not None
    await sql(url.get_secret_value(), statement)


async def connections_of(auth: AuthApi, token: str) -> list[dict[str, object]]:
    r = await auth.http.get("/v1/connections", headers=bearer(token))
    assert r.status_code == 200, r.text
    listed: list[dict[str, object]] = r.json()
    return listed


async def test_grant_refresh_invalid_grant_and_revocation(
    serve_auth: ServeAuth, pg_url: str, nats_url: str, tmp_path: Path
) -> None:
    async with auth_with_simulator(serve_auth, pg_url, nats_url, tmp_path) as (auth, sim):
        # Connect: authorize URL with state and PKCE S256, consent, callback.
        tenant = await auth.create_tenant()
        user = await auth.create_user(tenant, ["submitter"])
        token = await auth.enrol(user)
        taxpayer = await sim.create_organisation()
        started = await start_connection(auth, token, taxpayer["vrn"])
        assert started["status"] == "pending"
        query = parse_qs(urlsplit(started["authorize_url"]).query)
        assert started["authorize_url"].startswith(sim.url + "/oauth/authorize?")
        assert query["code_challenge_method"] == ["S256"]
        assert len(query["code_challenge"][0]) == 43
        assert query["scope"] == ["read:vat write:vat"]
        assert query["redirect_uri"] == [auth.url + "/v1/connections/callback"]
        assert len(query["state"][0]) >= 43
        location = await sim.consent(started["authorize_url"], taxpayer, "grant")
        assert location.startswith(auth.url + "/v1/connections/callback?")
        r = await auth.http.get(location)
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "active"
        [listed] = await connections_of(auth, token)
        assert listed["status"] == "active" and listed["vrn"] == taxpayer["vrn"]
        assert listed["scopes"] == ["read:vat", "write:vat"]
        assert listed["granted_by"] == user.id
        granted = str(listed["granted_at"])
        assert str(listed["grant_expires_at"])[:7] > granted[:7]  # 18 months on

        # The gateway gets the access token, and HMRC accepts it.
        r = await hmrc_token(auth, tenant, taxpayer["vrn"])
        assert r.status_code == 200, r.text
        first = r.json()["access_token"]
        assert (await sim.vat_call(taxpayer["vrn"], first)).status_code == 200
        # While it is fresh, asking again costs HMRC nothing.
        calls = await sim.token_endpoint_calls()
        assert (await hmrc_token(auth, tenant, taxpayer["vrn"])).json()["access_token"] == first
        assert await sim.token_endpoint_calls() == calls

        # Expired access token: refreshed, the new one works and the old one no longer does.
        await expire_access_token(auth, started["id"])
        r = await hmrc_token(auth, tenant, taxpayer["vrn"])
        assert r.status_code == 200, r.text
        second = r.json()["access_token"]
        assert second != first
        assert await sim.token_endpoint_calls() == calls + 1
        assert (await sim.vat_call(taxpayer["vrn"], second)).status_code == 200
        stale = await sim.vat_call(taxpayer["vrn"], first)
        assert stale.status_code == 401 and stale.json()["code"] == "INVALID_CREDENTIALS"

        # invalid_grant (HMRC no longer honours the refresh token): needs re-authorisation.
        await revoke_refresh_token_at_hmrc(auth, sim, started["id"])
        await expire_access_token(auth, started["id"])
        r = await hmrc_token(auth, tenant, taxpayer["vrn"])
        assert r.status_code == 409, r.text
        problem = r.json()
        assert problem["code"] == "HMRC_REAUTHORISATION_REQUIRED"
        assert "POST /v1/connections" in problem["detail"] and taxpayer["vrn"] in problem["detail"]
        [listed] = await connections_of(auth, token)
        assert listed["status"] == "needs_reauthorisation"
        assert "invalid_grant" in str(listed["last_error"])
        # Asking again does not go back to HMRC.
        calls = await sim.token_endpoint_calls()
        assert (await hmrc_token(auth, tenant, taxpayer["vrn"])).status_code == 409
        assert await sim.token_endpoint_calls() == calls

        # Re-authorising the same VRN brings the same connection back to active.
        again = await start_connection(auth, token, taxpayer["vrn"])
        assert again["id"] == started["id"] and again["status"] == "needs_reauthorisation"
        location = await sim.consent(again["authorize_url"], taxpayer, "grant")
        assert (await auth.http.get(location)).json()["status"] == "active"
        assert (await hmrc_token(auth, tenant, taxpayer["vrn"])).status_code == 200

        # Revocation: gone for the gateway, nothing usable kept.
        admin = await auth.token_for_roles(tenant, ["tenant_admin"])
        r = await auth.http.delete(f"/v1/connections/{started['id']}", headers=bearer(admin))
        assert r.status_code == 204
        [listed] = await connections_of(auth, token)
        assert listed["status"] == "revoked" and listed["revoked_at"]
        r = await hmrc_token(auth, tenant, taxpayer["vrn"])
        assert r.status_code == 409 and r.json()["code"] == "HMRC_CONNECTION_REVOKED"


async def revoke_refresh_token_at_hmrc(auth: AuthApi, sim: Simulator, connection_id: str) -> None:
    """Someone else spends the single-use refresh token (as a second, unsynchronised
    refresher would), so the one auth holds is dead at HMRC."""
    assert auth.app is not None
    ctx = auth.app.state.auth
    async with ctx.db.sessions() as session:
        from services.auth.models import HmrcConnection

        connection = await session.get(HmrcConnection, uuid.UUID(connection_id))
    refresh_token = ctx.keys.envelope.decrypt(
        connection.refresh_token_enc, f"connection:{connection_id}:refresh_token"
    )
    r = await sim.http.post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": sim.client_id,
            "client_secret": sim.client_secret,
        },
    )
    assert r.status_code == 200, r.text


async def test_denied_consent_connects_nothing(
    serve_auth: ServeAuth, pg_url: str, nats_url: str, tmp_path: Path
) -> None:
    async with auth_with_simulator(serve_auth, pg_url, nats_url, tmp_path) as (auth, sim):
        tenant = await auth.create_tenant()
        token = await auth.token_for_roles(tenant, ["tenant_admin"])
        taxpayer = await sim.create_organisation()
        started = await start_connection(auth, token, taxpayer["vrn"])
        location = await sim.consent(started["authorize_url"], taxpayer, "deny")
        assert "error=access_denied" in location
        r = await auth.http.get(location)
        assert r.status_code == 400
        assert r.json()["code"] == "HMRC_CONSENT_DENIED"
        assert taxpayer["vrn"] in r.json()["detail"]
        [listed] = await connections_of(auth, token)
        assert listed["status"] == "pending"
        r = await hmrc_token(auth, tenant, taxpayer["vrn"])
        assert r.status_code == 409 and r.json()["code"] == "HMRC_CONNECTION_PENDING"


async def test_state_is_single_use_expires_and_must_be_ours(
    serve_auth: ServeAuth, pg_url: str, nats_url: str, tmp_path: Path
) -> None:
    async with auth_with_simulator(serve_auth, pg_url, nats_url, tmp_path) as (auth, sim):
        connected = await connect(auth, sim)
        token = connected.user_token
        # Replay: the same callback (state + code) a second time.
        started = await start_connection(auth, token, connected.vrn)
        location = await sim.consent(started["authorize_url"], connected.taxpayer, "grant")
        assert (await auth.http.get(location)).status_code == 200
        replay = await auth.http.get(location)
        assert replay.status_code == 400 and replay.json()["code"] == "OAUTH_STATE_REPLAYED"

        # A state we never issued.
        forged = location.replace("state=", "state=x")
        r = await auth.http.get(forged)
        assert r.status_code == 400 and r.json()["code"] == "OAUTH_STATE_INVALID"

        # Expired: HMRC sign-in took longer than ten minutes.
        started = await start_connection(auth, token, connected.vrn)
        state = parse_qs(urlsplit(started["authorize_url"]).query)["state"][0]
        await db_sql(
            auth,
            "UPDATE oauth_states SET expires_at = now() - interval '1 second' "
            f"WHERE state_hash = '{sha256_hex(state)}'",
        )
        location = await sim.consent(started["authorize_url"], connected.taxpayer, "grant")
        r = await auth.http.get(location)
        assert r.status_code == 400 and r.json()["code"] == "OAUTH_STATE_EXPIRED"
        # ...and it stays spent.
        assert (await auth.http.get(location)).json()["code"] == "OAUTH_STATE_REPLAYED"


async def test_wrong_pkce_verifier_is_refused_by_hmrc(
    serve_auth: ServeAuth, pg_url: str, nats_url: str, tmp_path: Path
) -> None:
    async with auth_with_simulator(serve_auth, pg_url, nats_url, tmp_path) as (auth, sim):
        tenant = await auth.create_tenant()
        token = await auth.token_for_roles(tenant, ["submitter"])
        taxpayer = await sim.create_organisation()
        started = await start_connection(auth, token, taxpayer["vrn"])
        state = parse_qs(urlsplit(started["authorize_url"]).query)["state"][0]
        state_hash = sha256_hex(state)
        # Swap in a verifier that does not match the challenge HMRC holds.
        assert auth.app is not None
        wrong = auth.app.state.auth.keys.envelope.encrypt(
            "w" * 64, f"oauth-state:{state_hash}:code_verifier"
        )
        await db_sql(
            auth,
            f"UPDATE oauth_states SET code_verifier_enc = '{wrong}' "
            f"WHERE state_hash = '{state_hash}'",
        )
        location = await sim.consent(started["authorize_url"], taxpayer, "grant")
        r = await auth.http.get(location)
        assert r.status_code == 400
        assert r.json()["code"] == "HMRC_CODE_EXCHANGE_FAILED"
        assert "invalid_grant" in r.json()["detail"]
        [listed] = await connections_of(auth, token)
        assert listed["status"] == "pending"


async def test_fifty_concurrent_requests_for_an_expired_token_refresh_once(
    serve_auth: ServeAuth, pg_url: str, nats_url: str, tmp_path: Path
) -> None:
    async with auth_with_simulator(serve_auth, pg_url, nats_url, tmp_path) as (auth, sim):
        connected = await connect(auth, sim)
        await expire_access_token(auth, connected.id)
        gateway = await auth.gateway_token()
        before = await sim.token_endpoint_calls()
        # Two replicas of auth on one database, 25 callers each.
        async with (
            serve_auth(auth.settings) as replica,
            httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=60)) as http,
        ):
            responses = await asyncio.gather(
                *(
                    http.post(
                        f"{base}/internal/v1/hmrc/access-token",
                        json={"tenant_id": connected.tenant, "vrn": connected.vrn},
                        headers=bearer(gateway),
                    )
                    for base in (auth.url, replica.url)
                    for _ in range(25)
                )
            )
        assert [r.status_code for r in responses] == [200] * 50, responses[0].text
        tokens = {r.json()["access_token"] for r in responses}
        assert len(tokens) == 1
        assert await sim.token_endpoint_calls() == before + 1
        assert (await sim.vat_call(connected.vrn, tokens.pop())).status_code == 200


async def test_status_shows_expiring_soon_and_lapsed_grants(
    serve_auth: ServeAuth, pg_url: str, nats_url: str, tmp_path: Path
) -> None:
    async with auth_with_simulator(serve_auth, pg_url, nats_url, tmp_path) as (auth, sim):
        connected = await connect(auth, sim)
        await db_sql(
            auth,
            "UPDATE hmrc_connections SET grant_expires_at = now() + interval '10 days' "
            f"WHERE id = '{connected.id}'",
        )
        [listed] = await connections_of(auth, connected.user_token)
        assert listed["status"] == "expiring_soon"
        # Past the 18 months: no call to HMRC, a clear next step instead.
        await db_sql(
            auth,
            "UPDATE hmrc_connections SET grant_expires_at = now() - interval '1 minute', "
            f"access_expires_at = now() - interval '1 minute' WHERE id = '{connected.id}'",
        )
        [listed] = await connections_of(auth, connected.user_token)
        assert listed["status"] == "needs_reauthorisation"
        calls = await sim.token_endpoint_calls()
        r = await hmrc_token(auth, connected.tenant, connected.vrn)
        assert r.status_code == 409 and r.json()["code"] == "HMRC_REAUTHORISATION_REQUIRED"
        assert await sim.token_endpoint_calls() == calls


async def test_hmrc_outage_during_refresh_changes_nothing(
    serve_auth: ServeAuth, pg_url: str, nats_url: str, tmp_path: Path
) -> None:
    async with auth_with_simulator(serve_auth, pg_url, nats_url, tmp_path) as (auth, sim):
        connected = await connect(auth, sim)
        await expire_access_token(auth, connected.id)
        fault = {"error_rate": 1, "error_status": 503, "remaining": 1}
        r = await sim.http.put("/control/faults/oauth_token", json=fault)
        assert r.status_code == 200, r.text
        r = await hmrc_token(auth, connected.tenant, connected.vrn)
        assert r.status_code == 503 and r.json()["code"] == "HMRC_UNAVAILABLE"
        assert r.headers["Retry-After"]
        [listed] = await connections_of(auth, connected.user_token)
        assert listed["status"] == "active"
        # Once HMRC answers again, the same refresh token still works.
        r = await hmrc_token(auth, connected.tenant, connected.vrn)
        assert r.status_code == 200, r.text
        assert (await sim.vat_call(connected.vrn, r.json()["access_token"])).status_code == 200
