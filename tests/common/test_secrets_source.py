"""Secrets from `<NAME>_FILE` files, the environment, Vault (KV v2, token or Kubernetes
auth) and the mounted secrets directory; files and Vault read again when they change; and
the services refuse to start outside development with a missing or placeholder secret."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from services.auth.signing import generate_pem
from services.common.envelope import new_keyring_entry
from services.common.secrets_source import SecretSource, SecretSourceError
from services.common.settings import ServiceSettings, is_placeholder_secret
from tests.common.vault_substitute import vault_substitute


class DemoSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DEMO_")

    api_secret: SecretStr | None = None
    plain: str = "x"


def test_order_file_pointer_then_environment_then_directory(tmp_path: Path) -> None:
    pointed = tmp_path / "pointed"
    pointed.write_text("from-file\n")
    directory = tmp_path / "dir"
    directory.mkdir()
    (directory / "DEMO_API_SECRET").write_text("from-dir")
    env = {"DEMO_API_SECRET_FILE": str(pointed), "DEMO_API_SECRET": "from-env"}
    assert SecretSource(env, str(directory)).get("DEMO_API_SECRET") == "from-file"
    del env["DEMO_API_SECRET_FILE"]
    assert SecretSource(env, str(directory)).get("DEMO_API_SECRET") == "from-env"
    del env["DEMO_API_SECRET"]
    assert SecretSource(env, str(directory)).get("DEMO_API_SECRET") == "from-dir"
    assert SecretSource(env, str(directory)).get("DEMO_OTHER") is None


def test_a_changed_file_is_read_again(tmp_path: Path) -> None:
    # A Kubernetes Secret update replaces the mounted file; the next read sees it.
    path = tmp_path / "secret"
    path.write_text("one")
    source = SecretSource({"DEMO_API_SECRET_FILE": str(path)}, "")
    assert source.get("DEMO_API_SECRET") == "one"
    path.write_text("two")
    assert source.get("DEMO_API_SECRET") == "two"


def test_a_named_file_that_is_missing_is_an_error(tmp_path: Path) -> None:
    source = SecretSource({"DEMO_API_SECRET_FILE": str(tmp_path / "nope")}, "")
    with pytest.raises(SecretSourceError, match="cannot read secret file"):
        source.get("DEMO_API_SECRET")


def test_settings_take_secret_fields_from_a_named_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "secret"
    path.write_text("s3cr3t-from-a-mount\n")
    monkeypatch.setenv("DEMO_API_SECRET_FILE", str(path))
    monkeypatch.setenv("DEMO_API_SECRET", "from-env")
    settings = DemoSettings()
    assert settings.api_secret is not None
    assert settings.api_secret.get_secret_value() == "s3cr3t-from-a-mount"


def test_vault_kv2_with_a_token(monkeypatch: pytest.MonkeyPatch) -> None:
    with vault_substitute() as (addr, vault):
        vault.put("secret", "mtd/demo", {"DEMO_API_SECRET": "from-vault"})
        env = {"MTD_VAULT_ADDR": addr, "MTD_VAULT_PATH": "mtd/demo"}
        env["MTD_VAULT_TOKEN"] = vault.root_token
        env["MTD_VAULT_CACHE_SECONDS"] = "0"
        source = SecretSource(env, "")
        assert source.get("DEMO_API_SECRET") == "from-vault"
        assert source.get("DEMO_MISSING") is None
        # Rotated in Vault: read again once the cache is stale (here at once).
        vault.put("secret", "mtd/demo", {"DEMO_API_SECRET": "rotated"})
        assert source.get("DEMO_API_SECRET") == "rotated"
        # The environment still wins over Vault (development overrides).
        assert SecretSource(env | {"DEMO_API_SECRET": "env"}, "").get("DEMO_API_SECRET") == "env"
        # Settings read it too.
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        settings = DemoSettings()
        assert settings.api_secret is not None
        assert settings.api_secret.get_secret_value() == "rotated"
        wrong = SecretSource(env | {"MTD_VAULT_TOKEN": "hvs.wrong"}, "")
        with pytest.raises(SecretSourceError, match="refused"):
            wrong.get("DEMO_API_SECRET")


def test_vault_kubernetes_auth(tmp_path: Path) -> None:
    jwt_file = tmp_path / "token"
    jwt_file.write_text("service-account-jwt")
    with vault_substitute() as (addr, vault):
        vault.put("kv", "mtd/auth", {"DEMO_API_SECRET": "k8s-read"})
        vault.k8s_logins.add(("mtd-auth", "service-account-jwt"))
        env = {
            "MTD_VAULT_ADDR": addr,
            "MTD_VAULT_MOUNT": "kv",
            "MTD_VAULT_PATH": "mtd/auth",
            "MTD_VAULT_ROLE": "mtd-auth",
            "MTD_VAULT_JWT_FILE": str(jwt_file),
        }
        source = SecretSource(env, "")
        assert source.get("DEMO_API_SECRET") == "k8s-read"
        # Cached: a second read within MTD_VAULT_CACHE_SECONDS does not ask Vault again.
        assert source.get("DEMO_API_SECRET") == "k8s-read"
        assert vault.reads == 1
        denied = SecretSource(env | {"MTD_VAULT_ROLE": "someone-else"}, "")
        with pytest.raises(SecretSourceError):
            denied.get("DEMO_API_SECRET")


def test_vault_needs_a_path_and_a_way_to_sign_in() -> None:
    with pytest.raises(SecretSourceError, match="MTD_VAULT_PATH"):
        SecretSource({"MTD_VAULT_ADDR": "http://127.0.0.1:9"}, "")
    with pytest.raises(SecretSourceError, match="MTD_VAULT_TOKEN"):
        SecretSource({"MTD_VAULT_ADDR": "http://127.0.0.1:9", "MTD_VAULT_PATH": "p"}, "")


@pytest.mark.parametrize(
    ("value", "refused"),
    [("changeme", True), ("dev-secret", True), ("Insecure-key", True), ("x7Qk2pLr9w", False)],
)
def test_placeholder_secrets(value: str, refused: bool) -> None:
    assert is_placeholder_secret(value) is refused


def _start(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # The service's real entry point: settings are loaded before anything else happens.
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AUTH_", "MTD_"))}
    return subprocess.run(
        [sys.executable, "-m", "services.auth"],
        env=base | {"MTD_SECRETS_DIR": "/nonexistent"} | env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_outside_development_a_placeholder_or_missing_secret_stops_the_service() -> None:
    common = {
        "AUTH_ENVIRONMENT": "production",
        "AUTH_HMRC_BASE_URL": "http://127.0.0.1:9",
        "AUTH_HMRC_CLIENT_ID": "app",
        "AUTH_HMRC_CLIENT_SECRET": "dev-client-secret",
    }
    missing = _start(common)
    assert missing.returncode == 2
    assert "configuration error" in missing.stderr
    assert "AUTH_SIGNING_KEY is required outside development" in missing.stderr
    keys = {
        "AUTH_SIGNING_KEY": generate_pem(),
        "AUTH_ENCRYPTION_KEYS": new_keyring_entry("k1"),
        "AUTH_USER_ID_SALTS": "s1:" + "q" * 24,
    }
    placeholder = _start(common | keys)
    assert placeholder.returncode == 2
    assert "AUTH_HMRC_CLIENT_SECRET holds a placeholder secret" in placeholder.stderr


def test_an_unreachable_vault_stops_the_service_with_one_line() -> None:
    done = _start(
        {
            "AUTH_ENVIRONMENT": "production",
            "MTD_VAULT_ADDR": "http://127.0.0.1:9",
            "MTD_VAULT_PATH": "mtd/auth",
            "MTD_VAULT_TOKEN": "hvs.x7Qk2pLr9wVt",
        }
    )
    assert done.returncode == 2
    assert done.stderr.startswith("configuration error: Vault http://127.0.0.1:9 refused")
    assert "Traceback" not in done.stderr
