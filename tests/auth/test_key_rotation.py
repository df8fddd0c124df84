"""Personal data sealed like every other secret column; KEK and signing-key rotation
while the service runs (reloaded from their source), re-wrapping online, and `retire`
refusing while an old KEK still wraps anything."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from pathlib import Path

import asyncpg
import jwt
import pytest
from alembic import command
from pydantic import SecretStr

from services.auth import keys as keys_cli
from services.auth import sealed
from services.auth.keymaterial import KeyMaterial, keys_for_migration, reload
from services.auth.signing import generate_pem, load_signing_key
from services.common import migrations
from services.common.database import async_url
from services.common.envelope import new_keyring_entry
from services.common.secrets_source import SecretSource
from tests.auth.conftest import GATEWAY_ID, AuthApi, ServeAuth, bearer, make_settings
from tests.auth.test_no_plaintext_secrets import database_text
from tests.auth.test_users_and_mfa import next_step_code, sign_in
from tests.conftest import fresh_database


def key_material(auth: AuthApi) -> KeyMaterial:
    assert auth.app is not None
    keys = auth.app.state.auth.keys
    assert isinstance(keys, KeyMaterial)
    return keys


async def test_email_and_name_are_sealed_and_sign_in_still_finds_the_user(
    auth: AuthApi,
) -> None:
    tenant = await auth.create_tenant()
    user = await auth.create_user(tenant, ["viewer"])
    dump = await database_text(auth)
    assert user.email not in dump
    assert "Test User" not in dump
    r = await auth.http.post(
        "/v1/auth/login", json={"email": user.email.upper(), "password": user.password}
    )
    assert r.status_code == 200, r.text
    r = await auth.http.get(f"/v1/tenants/{tenant}/users", headers=bearer(await auth.admin_token()))
    assert [(u["email"], u["name"]) for u in r.json()] == [(user.email, "Test User")]
    # The same e-mail again (any case) is refused by its keyed hash.
    r = await auth.http.post(
        f"/v1/tenants/{tenant}/users",
        json={
            "email": user.email.upper(),
            "name": "Twin",
            "roles": ["viewer"],
            "password": "p" * 20,
        },
        headers=bearer(await auth.admin_token()),
    )
    assert r.status_code == 409
    assert r.json()["code"] == "USER_EXISTS"


async def test_kek_rotation_online_rewrap_and_retire(
    auth: AuthApi, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = key_material(auth)
    assert auth.settings.encryption_keys is not None
    k1 = auth.settings.encryption_keys.get_secret_value()
    tenant = await auth.create_tenant()
    old_user = await auth.create_user(tenant, ["viewer"])
    await auth.enrol(old_user)  # a TOTP seed sealed under k1 too

    # Step one: k2 joins the ring but only decrypts (every replica must know it first).
    k2 = new_keyring_entry("k2")
    monkeypatch.setenv("AUTH_ENCRYPTION_KEYS", f"{k1},{k2}")
    monkeypatch.setenv("AUTH_ENCRYPTION_KEY_CURRENT", "k1")
    assert reload(auth.settings, keys, SecretSource())
    assert keys.envelope.current_kid == "k1"
    # Step two: k2 wraps new values.
    monkeypatch.setenv("AUTH_ENCRYPTION_KEY_CURRENT", "k2")
    assert reload(auth.settings, keys, SecretSource())
    new_user = await auth.create_user(tenant, ["viewer"])
    cli_settings = auth.settings.model_copy(
        update={"encryption_keys": SecretStr(f"{k1},{k2}"), "encryption_key_current": "k2"}
    )
    assert auth.app is not None
    counts = sealed.totals_by_kid(await sealed.count_by_kid(auth.app.state.auth.db))
    assert counts["k1"] == 3 and counts["k2"] == 2  # old: e-mail, name, seed; new: e-mail, name

    assert await keys_cli.run(cli_settings, ["retire", "k1"]) == 1
    assert "3 values are still wrapped by k1" in capsys.readouterr().err

    assert await keys_cli.run(cli_settings, ["rewrap", "--batch", "2", "--pause", "0"]) == 0
    assert '"rewrapped": 3' in capsys.readouterr().out
    assert await keys_cli.run(cli_settings, ["retire", "k1"]) == 0
    assert await keys_cli.run(cli_settings, ["retire", "k2"]) == 1  # the current one

    # k1 removed from the ring: everyone still signs in (password, then TOTP).
    monkeypatch.setenv("AUTH_ENCRYPTION_KEYS", k2)
    monkeypatch.delenv("AUTH_ENCRYPTION_KEY_CURRENT")
    assert reload(auth.settings, keys, SecretSource())
    assert keys.envelope.kids == ["k2"]
    for user in (old_user, new_user):
        r = await auth.http.post(
            "/v1/auth/login", json={"email": user.email, "password": user.password}
        )
        assert r.status_code == 200, r.text
    mfa_token = await sign_in(auth, old_user)
    assert old_user.totp_secret is not None
    r = await auth.http.post(
        "/v1/auth/login/mfa",
        json={"mfa_token": mfa_token, "code": next_step_code(old_user.totp_secret)},
    )
    assert r.status_code == 200, r.text  # the re-wrapped TOTP seed opens


async def test_signing_key_rotation_publishes_the_next_key_before_it_signs(
    auth: AuthApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = key_material(auth)
    tenant = await auth.create_tenant()
    client = await auth.create_client(tenant, ["viewer"])
    old_token = await auth.client_token(*client)
    old_kid = jwt.get_unverified_header(old_token)["kid"]
    assert auth.settings.signing_key is not None
    old_pem = auth.settings.signing_key.get_secret_value()
    new_pem = generate_pem()
    new_kid = load_signing_key(new_pem).kid
    # Secrets from mounted files (a Kubernetes Secret), read again on change.
    files = {name: tmp_path / name for name in ("current", "previous", "next")}
    for name, path in files.items():
        path.write_text({"current": old_pem, "previous": "", "next": new_pem}[name])
        monkeypatch.setenv(
            {
                "current": "AUTH_SIGNING_KEY",
                "previous": "AUTH_PREVIOUS_SIGNING_KEY",
                "next": "AUTH_NEXT_SIGNING_KEY",
            }[name]
            + "_FILE",
            str(path),
        )
    assert reload(auth.settings, keys, SecretSource())
    jwks = [k["kid"] for k in (await auth.http.get("/v1/auth/jwks.json")).json()["keys"]]
    assert jwks == [old_kid, new_kid]
    # Published, not yet signing.
    assert jwt.get_unverified_header(await auth.client_token(*client))["kid"] == old_kid

    files["current"].write_text(new_pem)
    files["previous"].write_text(old_pem)
    files["next"].write_text("")
    assert reload(auth.settings, keys, SecretSource())
    new_token = await auth.client_token(*client)
    assert jwt.get_unverified_header(new_token)["kid"] == new_kid
    for token in (old_token, new_token):
        assert (await auth.http.get("/v1/auth/me", headers=bearer(token))).status_code == 200

    files["previous"].write_text("")  # after the longest token lifetime
    assert reload(auth.settings, keys, SecretSource())
    assert (await auth.http.get("/v1/auth/me", headers=bearer(old_token))).status_code == 401
    assert (await auth.http.get("/v1/auth/me", headers=bearer(new_token))).status_code == 200


async def test_a_reload_that_does_not_parse_keeps_the_keys_in_hand(
    auth: AuthApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = key_material(auth)
    before = keys.envelope.kids
    monkeypatch.setenv("AUTH_ENCRYPTION_KEYS", "k9:c2hvcnQ")
    with pytest.raises(ValueError, match="32 bytes"):
        reload(auth.settings, keys, SecretSource())
    assert keys.envelope.kids == before


async def test_migration_0005_seals_existing_users(
    pg_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = await fresh_database(pg_url)
    await asyncio.to_thread(migrations.upgrade, "auth", url, "0004")
    dsn = async_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    user_id = uuid.uuid4()
    try:
        await conn.execute(
            "INSERT INTO users (id, email, name, roles, password_hash)"
            " VALUES ($1, 'Ada@Example.com', 'Ada Lovelace', '{viewer}', 'x')",
            user_id,
        )
    finally:
        await conn.close()
    monkeypatch.setenv("AUTH_ENVIRONMENT", "production")
    monkeypatch.setenv("MTD_SECRETS_DIR", str(tmp_path / "none"))
    # Without the keys the migration stops and says what it needs.
    with pytest.raises(RuntimeError, match="AUTH_ENCRYPTION_KEYS and AUTH_USER_ID_SALTS"):
        await asyncio.to_thread(migrations.upgrade, "auth", url, "0005")
    monkeypatch.setenv("AUTH_ENCRYPTION_KEYS", new_keyring_entry("k1"))
    monkeypatch.setenv("AUTH_USER_ID_SALTS", "s1:" + "z" * 24)
    await asyncio.to_thread(migrations.upgrade, "auth", url, "0005")
    envelope, hasher = keys_for_migration()
    conn = await asyncpg.connect(dsn)
    try:
        row = await conn.fetchrow("SELECT * FROM users WHERE id = $1", user_id)
        assert row is not None
        assert "email" not in dict(row)
        assert "name" not in dict(row)
        assert (
            envelope.decrypt(row["email_enc"], sealed.email_context(user_id)) == "ada@example.com"
        )
        assert envelope.decrypt(row["name_enc"], sealed.name_context(user_id)) == "Ada Lovelace"
        assert row["email_hash"] in sealed.email_lookup(hasher, "ADA@example.com")
    finally:
        await conn.close()
    # And back: the downgrade opens them again.
    config = migrations.alembic_config("auth", url)
    await asyncio.to_thread(command.downgrade, config, "0004")
    conn = await asyncpg.connect(dsn)
    try:
        row = await conn.fetchrow("SELECT email, name FROM users WHERE id = $1", user_id)
        assert row is not None
        assert (row["email"], row["name"]) == ("ada@example.com", "Ada Lovelace")
    finally:
        await conn.close()


async def test_a_rotated_service_client_secret_keeps_working_for_the_grace_period(
    serve_auth: ServeAuth, auth_db_url: str, nats_url: str, tmp_path: Path
) -> None:
    old, new = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    before = make_settings(auth_db_url, nats_url, tmp_path, service_clients=f"{GATEWAY_ID}:{old}")
    async with serve_auth(before) as api:
        await api.client_token(GATEWAY_ID, old)
    # The Secret now holds a new gateway secret; auth restarts (or another replica starts)
    # before the gateway has read its own copy.
    rotated = before.model_copy(update={"service_clients": SecretStr(f"{GATEWAY_ID}:{new}")})
    async with serve_auth(rotated) as api:
        await api.client_token(GATEWAY_ID, new)
        await api.client_token(GATEWAY_ID, old)
    # Without a grace period the old secret stops at once.
    newest = secrets.token_urlsafe(24)
    strict = rotated.model_copy(
        update={
            "service_clients": SecretStr(f"{GATEWAY_ID}:{newest}"),
            "client_secret_grace_seconds": 0,
        }
    )
    async with serve_auth(strict) as api:
        await api.client_token(GATEWAY_ID, newest)
        r = await api.http.post(
            "/v1/auth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": GATEWAY_ID,
                "client_secret": new,
            },
        )
        assert r.status_code == 401


async def test_salt_rotation_keeps_sign_in_and_rewrap_rehashes_emails(
    auth: AuthApi, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = key_material(auth)
    assert auth.settings.user_id_salts is not None
    s1 = auth.settings.user_id_salts.get_secret_value()
    tenant = await auth.create_tenant()
    user = await auth.create_user(tenant, ["viewer"])
    ring = f"s2:{secrets.token_urlsafe(24)},{s1}"
    monkeypatch.setenv("AUTH_USER_ID_SALTS", ring)
    assert reload(auth.settings, keys, SecretSource())
    assert keys.identifiers.current == "s2"

    async def signs_in() -> bool:
        r = await auth.http.post(
            "/v1/auth/login", json={"email": user.email, "password": user.password}
        )
        return r.status_code == 200

    assert await signs_in()  # found by its s1 hash
    cli_settings = auth.settings.model_copy(update={"user_id_salts": SecretStr(ring)})
    assert await keys_cli.run(cli_settings, ["rewrap"]) == 0
    assert '"rehashed": 1' in capsys.readouterr().out
    monkeypatch.setenv("AUTH_USER_ID_SALTS", ring.split(",")[0])
    reload(auth.settings, keys, SecretSource())
    assert await signs_in()  # now by its s2 hash alone
