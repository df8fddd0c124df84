"""Signing-key rotation through the JWKS, envelope encryption with key ids, and how key
material is found: required outside development, generated and kept in development."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import jwt
import pytest

from services.auth.keymaterial import load_key_material
from services.auth.signing import generate_pem
from services.common.envelope import Envelope, EnvelopeError, new_keyring_entry, parse_keyring
from services.common.security.jwt_verify import JwksKeySource, TokenVerifier
from tests.auth.conftest import ServeAuth, bearer, make_settings


async def test_rotation_keeps_the_previous_key_in_the_jwks(
    serve_auth: ServeAuth, auth_db_url: str, nats_url: str, tmp_path: Path
) -> None:
    old_pem, new_pem = generate_pem(), generate_pem()
    before = make_settings(auth_db_url, nats_url, tmp_path, signing_key=old_pem)
    async with serve_auth(before) as api:
        tenant = await api.create_tenant()
        client = await api.create_client(tenant, ["viewer"])
        old_token = await api.client_token(*client)
        # A consumer that cached the old JWKS.
        keys = JwksKeySource(api.url + "/v1/auth/jwks.json", min_refresh_interval=0)
        verifier = TokenVerifier(keys, issuer=before.issuer, audience=before.audience)
        assert (await verifier.verify(old_token)).subject == client[0]
    old_kid = jwt.get_unverified_header(old_token)["kid"]

    rotated = before.model_copy(
        update={
            "signing_key": make_settings(
                auth_db_url, nats_url, tmp_path, signing_key=new_pem
            ).signing_key,
            "previous_signing_key": before.signing_key,
        }
    )
    async with serve_auth(rotated) as api:
        jwks = (await api.http.get("/v1/auth/jwks.json")).json()
        kids = [k["kid"] for k in jwks["keys"]]
        assert len(kids) == 2 and kids[1] == old_kid
        new_token = await api.client_token(*client)
        new_kid = jwt.get_unverified_header(new_token)["kid"]
        assert new_kid == kids[0] != old_kid
        # Tokens from before the rotation still work, here and elsewhere.
        r = await api.http.get("/v1/auth/me", headers=bearer(old_token))
        assert r.status_code == 200
        keys.url = api.url + "/v1/auth/jwks.json"  # the same service, restarted elsewhere
        fetches = keys.fetches
        assert (await verifier.verify(new_token)).subject == client[0]
        assert keys.fetches == fetches + 1  # unknown kid -> one refetch
        assert (await verifier.verify(old_token)).subject == client[0]

    # Once the previous key is dropped, its tokens stop working.
    dropped = rotated.model_copy(update={"previous_signing_key": None})
    async with serve_auth(dropped) as api:
        r = await api.http.get("/v1/auth/me", headers=bearer(old_token))
        assert r.status_code == 401


def test_envelope_rotation_and_context_binding() -> None:
    k1 = new_keyring_entry("k1")
    old = Envelope(parse_keyring(k1))
    sealed = old.encrypt("hmrc-refresh-token", "connection:1:refresh_token")
    assert "hmrc-refresh-token" not in sealed
    assert old.key_id(sealed) == "k1"
    rotated = Envelope(parse_keyring(f"{new_keyring_entry('k2')},{k1}"))
    assert rotated.decrypt(sealed, "connection:1:refresh_token") == "hmrc-refresh-token"
    resealed = rotated.encrypt("hmrc-refresh-token", "connection:1:refresh_token")
    assert rotated.key_id(resealed) == "k2"
    assert resealed != rotated.encrypt("hmrc-refresh-token", "connection:1:refresh_token")
    with pytest.raises(EnvelopeError):
        rotated.decrypt(sealed, "connection:2:refresh_token")  # moved to another row
    with pytest.raises(EnvelopeError):
        old.decrypt(resealed, "connection:1:refresh_token")  # k2 unknown there
    with pytest.raises(ValueError, match="32 bytes"):
        parse_keyring("k1:c2hvcnQ")


def test_development_generates_key_material_once_and_keeps_it(tmp_path: Path) -> None:
    settings = make_settings(
        "postgresql://unused/x",
        "nats://unused",
        tmp_path,
        environment="development",
        signing_key=None,
        encryption_keys=None,
        user_id_salts=None,
    )
    first = load_key_material(settings)
    files = sorted(p.name for p in settings.dev_secrets_dir.iterdir())
    assert files == ["encryption_keys", "signing_key", "user_id_salts"]
    for path in settings.dev_secrets_dir.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    second = load_key_material(settings)
    assert second.signing.current.kid == first.signing.current.kid
    assert second.identifiers.hash("u") == first.identifiers.hash("u")
    sealed = first.envelope.encrypt("x", "c")
    assert second.envelope.decrypt(sealed, "c") == "x"


@pytest.mark.parametrize("environment", ["test", "production"])
def test_outside_development_missing_keys_stop_the_service_with_one_line(
    environment: str, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTH_", "MTD_SECRETS_DIR"))}
    env.update(
        AUTH_ENVIRONMENT=environment,
        AUTH_HMRC_BASE_URL="http://127.0.0.1:9",
        AUTH_HMRC_CLIENT_ID="app",
        AUTH_HMRC_CLIENT_SECRET="a-real-looking-secret",
        AUTH_DATABASE_URL="postgresql://u:p@127.0.0.1:9/x",
        AUTH_ENCRYPTION_KEYS=new_keyring_entry("k1"),
        MTD_SECRETS_DIR=str(tmp_path),
    )
    proc = subprocess.run(
        [sys.executable, "-m", "services.auth"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "AUTH_SIGNING_KEY is required outside development" in lines[0]
    assert "AUTH_USER_ID_SALTS is required outside development" in lines[0]
    assert "AUTH_ENCRYPTION_KEYS" not in lines[0]


def test_key_material_is_read_from_the_secrets_directory(tmp_path: Path) -> None:
    (tmp_path / "AUTH_SIGNING_KEY").write_text(generate_pem())
    (tmp_path / "AUTH_ENCRYPTION_KEYS").write_text(new_keyring_entry("k9"))
    (tmp_path / "AUTH_USER_ID_SALTS").write_text("s7:" + "x" * 24)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTH_")}
    env.update(
        MTD_SECRETS_DIR=str(tmp_path),
        AUTH_ENVIRONMENT="production",
        AUTH_HMRC_BASE_URL="http://h",
        AUTH_HMRC_CLIENT_ID="a",
        AUTH_HMRC_CLIENT_SECRET="a-real-looking-secret",
    )
    code = (
        "from services.auth.settings import AuthSettings\n"
        "from services.auth.keymaterial import load_key_material\n"
        "from services.common.settings import load_settings\n"
        "k = load_key_material(load_settings(AuthSettings))\n"
        "print(k.envelope.current_kid, k.identifiers.current)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["k9", "s7"]


def test_the_grant_lasts_eighteen_calendar_months() -> None:
    from datetime import UTC, datetime

    from services.auth.connections import add_months

    start = datetime(2025, 8, 31, 9, 30, tzinfo=UTC)
    assert add_months(start, 18) == datetime(2027, 2, 28, 9, 30, tzinfo=UTC)
    assert add_months(datetime(2026, 6, 15, tzinfo=UTC), 18) == datetime(2027, 12, 15, tzinfo=UTC)


async def test_bootstrap_client_exists_only_in_development_unless_asked(
    serve_auth: ServeAuth, auth_db_url: str, nats_url: str, tmp_path: Path
) -> None:
    settings = make_settings(auth_db_url, nats_url, tmp_path, bootstrap_outside_development=False)
    async with serve_auth(settings) as api:
        secret = settings.bootstrap_client_secret
        assert secret is not None
        r = await api.http.post(
            "/v1/auth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": settings.bootstrap_client_id,
                "client_secret": secret.get_secret_value(),
            },
        )
        assert r.status_code == 401
        # The gateway's service client is provisioned in every environment.
        await api.gateway_token()
    development = settings.model_copy(update={"environment": "development"})
    async with serve_auth(development) as api:
        token = await api.admin_token()
        r = await api.http.post("/v1/tenants", json={"name": "first"}, headers=bearer(token))
        assert r.status_code == 201
    # A restart with a new bootstrap secret (stack.env regenerated) makes it the valid one.
    renewed = development.model_copy(
        update={
            "bootstrap_client_secret": make_settings(
                auth_db_url, nats_url, tmp_path
            ).bootstrap_client_secret
        }
    )
    async with serve_auth(renewed) as api:
        await api.admin_token()
