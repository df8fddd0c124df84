"""No token, secret, password, TOTP seed or recovery code appears in plain text in the
logs, in any response after the one that hands it out, or anywhere in the database.

Auth runs as its own process with DEBUG logging while the test
plays the whole life of a tenant (clients, users with MFA, an HMRC connection with a
refresh), collects every secret it is shown along the way, then scans."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import asyncpg
import pyotp

from services.auth.hashing import sha256_hex
from services.auth.keymaterial import load_key_material
from services.auth.models import HmrcConnection, OAuthState
from services.common.database import Database, async_url
from tests.auth.conftest import AuthApi, bearer, make_settings
from tests.auth.process import auth_process
from tests.auth.simulator import (
    Simulator,
    expire_access_token,
    hmrc_token,
    simulator,
    start_connection,
)
from tests.conftest import fresh_database


async def database_text(auth: AuthApi) -> str:
    url = auth.settings.database_url
    assert url is not None
    dsn = async_url(url.get_secret_value()).set(drivername="postgresql")
    conn = await asyncpg.connect(dsn.render_as_string(hide_password=False))
    try:
        tables = await conn.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        )
        dump: list[str] = []
        for (table,) in tables:
            rows = await conn.fetch(f'SELECT row_to_json(t)::text FROM "{table}" t')
            dump.extend(f"{table}: {row[0]}" for row in rows)
        return "\n".join(dump)
    finally:
        await conn.close()


def leaks(secrets_seen: list[str], text: str) -> list[str]:
    return [s[:6] + "…" for s in secrets_seen if s in text]


async def life_of_a_tenant(auth: AuthApi, sim: Simulator, db: Database) -> list[str]:
    """Everything a tenant does; returns the bodies of reads made afterwards."""
    keys = load_key_material(auth.settings)
    tenant = await auth.create_tenant()
    admin_id, admin_secret = await auth.create_client(tenant, ["tenant_admin"])
    admin = await auth.client_token(admin_id, admin_secret)
    r = await auth.http.post(
        f"/v1/tenants/{tenant}/clients/{admin_id}/secret", headers=bearer(admin)
    )
    auth.remember(r.json()["client_secret"])
    user = await auth.create_user(tenant, ["submitter", "tenant_admin"])
    session = await auth.enrol(user)
    # A second sign-in with TOTP and one with a recovery code.
    for second_factor in ({"recovery_code": user.recovery_codes[0]}, {}):
        r = await auth.http.post(
            "/v1/auth/login", json={"email": user.email, "password": user.password}
        )
        mfa_token = r.json()["mfa_token"]
        auth.remember(mfa_token)
        code = second_factor or {"code": pyotp.TOTP(user.totp_secret).at(time.time() + 30)}
        r = await auth.http.post("/v1/auth/login/mfa", json={"mfa_token": mfa_token, **code})
        assert r.status_code == 200, r.text
        auth.remember(r.json()["access_token"])
    # A failed guess, so throttling records exist too.
    await auth.http.post("/v1/auth/login", json={"email": user.email, "password": "wrong-guess"})

    taxpayer = await sim.create_organisation()
    auth.remember(taxpayer["password"])
    started = await start_connection(auth, session, taxpayer["vrn"])
    state = parse_qs(urlsplit(started["authorize_url"]).query)["state"][0]
    auth.remember(state)
    async with db.sessions() as s:
        pending = await s.get(OAuthState, sha256_hex(state))
        assert pending is not None
        auth.remember(
            keys.envelope.decrypt(
                pending.code_verifier_enc, f"oauth-state:{pending.state_hash}:code_verifier"
            )
        )
    location = await sim.consent(started["authorize_url"], taxpayer, "grant")
    auth.remember(parse_qs(urlsplit(location).query)["code"][0])
    assert (await auth.http.get(location)).status_code == 200
    for _ in range(2):  # the first grant's tokens, then refreshed ones
        r = await hmrc_token(auth, tenant, taxpayer["vrn"])
        assert r.status_code == 200, r.text
        auth.remember(r.json()["access_token"])
        async with db.sessions() as s:
            connection = await s.get(HmrcConnection, uuid.UUID(started["id"]))
            assert connection is not None and connection.refresh_token_enc is not None
            auth.remember(
                keys.envelope.decrypt(
                    connection.refresh_token_enc, f"connection:{connection.id}:refresh_token"
                )
            )
        await expire_access_token(auth, started["id"])

    reads = []
    for path in (
        f"/v1/tenants/{tenant}",
        f"/v1/tenants/{tenant}/clients",
        f"/v1/tenants/{tenant}/users",
        "/v1/connections",
        "/v1/auth/me",
        "/v1/auth/jwks.json",
        f"/internal/v1/users/{user.id}/fraud-facts",
    ):
        token = await auth.gateway_token() if "internal" in path else admin
        r = await auth.http.get(path, headers=bearer(token))
        assert r.status_code == 200, (path, r.text)
        reads.append(r.text)
    return reads


async def test_no_secret_in_logs_later_responses_or_the_database(
    pg_url: str, nats_url: str, tmp_path: Path
) -> None:
    log_file = tmp_path / "auth.log"
    async with simulator(pg_url) as sim:
        settings = make_settings(
            await fresh_database(pg_url, "auth"),
            nats_url,
            tmp_path,
            hmrc_base_url=sim.url,
            hmrc_client_id=sim.client_id,
            hmrc_client_secret=sim.client_secret,
        )
        assert settings.database_url is not None
        db = Database(settings.database_url.get_secret_value())
        try:
            async with auth_process(settings, log_file) as auth:
                reads = await life_of_a_tenant(auth, sim, db)
        finally:
            await db.dispose()
        for setting in (
            settings.bootstrap_client_secret,
            settings.hmrc_client_secret,
            settings.encryption_keys,
            settings.user_id_salts,
            settings.signing_key,
        ):
            assert setting is not None
            auth.remember(setting.get_secret_value())
        for service_secret in settings.service_client_secrets().values():
            auth.remember(service_secret)
        seen = sorted(set(auth.issued))
        assert len(seen) > 25  # the scan has something to look for

        logs = log_file.read_text()
        # The log is the service's own, at DEBUG, and covers the HMRC calls.
        assert '"level": "debug"' in logs and "/oauth/token" in logs
        db_text = await database_text(auth)
        assert "v1:k1:" in db_text  # the encrypted values are there
        assert leaks(seen, logs) == []
        assert leaks(seen, db_text) == []
        for body in reads:
            assert leaks(seen, body) == []
        # The scan does see what it looks for.
        assert leaks(seen, f"oops {seen[0]} here") == [seen[0][:6] + "…"]
