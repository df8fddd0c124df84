"""A wrong setting or an unreachable dependency stops a service with one line naming the
setting — not a traceback storm. Each case starts the real service process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from services.common import migrations
from services.common.database import with_database
from services.common.settings import ServiceSettings, load_settings
from services.stack.embedded import free_port
from tests.conftest import fresh_database


def start(service: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AUTH_", "OBLIGATIONS_"))}
    return subprocess.run(
        [sys.executable, "-m", f"services.{service}"],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_missing_required_secret_names_the_setting() -> None:
    result = start(
        "auth",
        {
            "AUTH_HMRC_BASE_URL": "http://127.0.0.1:9",
            "AUTH_HMRC_CLIENT_ID": "app",
            "AUTH_DATABASE_URL": "postgresql://postgres@127.0.0.1:9/x",
        },
    )
    assert result.returncode == 2
    line = one_line(result)
    assert line.startswith("configuration error:")
    assert "AUTH_HMRC_CLIENT_SECRET is required but not set" in line


class ExampleSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="EXAMPLE_")
    api_secret: SecretStr


def test_placeholder_secret_is_refused_outside_development(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("EXAMPLE_API_SECRET", "changeme")
    monkeypatch.setenv("EXAMPLE_ENVIRONMENT", "development")
    assert load_settings(ExampleSettings).api_secret.get_secret_value() == "changeme"
    monkeypatch.setenv("EXAMPLE_ENVIRONMENT", "production")
    with pytest.raises(SystemExit) as exit_info:
        load_settings(ExampleSettings)
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip() == (
        "configuration error: EXAMPLE_API_SECRET holds a placeholder secret; set a real one"
    )


def test_unreachable_database_names_the_setting_and_hides_the_password() -> None:
    url = f"postgresql://svc:s3cr3t-pw@127.0.0.1:{free_port()}/mtd_obligations"
    result = start(
        "obligations",
        {"OBLIGATIONS_DATABASE_URL": url, "OBLIGATIONS_STARTUP_TIMEOUT": "1"},
    )
    assert result.returncode == 3
    line = one_line(result)
    assert line.startswith("startup error: OBLIGATIONS_DATABASE_URL: cannot reach")
    assert "s3cr3t-pw" not in line and "***" in line


async def test_unreachable_nats_names_the_setting(pg_url: str) -> None:
    result = start(
        "obligations",
        {
            "OBLIGATIONS_DATABASE_URL": await fresh_database(pg_url, "obligations"),
            "OBLIGATIONS_NATS_URL": f"nats://127.0.0.1:{free_port()}",
            "OBLIGATIONS_STARTUP_TIMEOUT": "1",
        },
    )
    assert result.returncode == 3
    assert one_line(result).startswith("startup error: OBLIGATIONS_NATS_URL: cannot reach NATS")


async def test_unmigrated_database_says_how_to_fix_it(pg_url: str, nats_url: str) -> None:
    url = await fresh_database(pg_url)
    result = start(
        "obligations",
        {
            "OBLIGATIONS_DATABASE_URL": with_database(url, url.rsplit("/", 1)[1]),
            "OBLIGATIONS_NATS_URL": nats_url,
        },
    )
    assert result.returncode == 3
    line = one_line(result)
    head = migrations.head_revision("obligations")
    assert f"is at migration none, expected {head}" in line
    assert "make migrate" in line


def test_secrets_can_come_from_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "EXAMPLE_API_SECRET").write_text("from-a-file\n")
    monkeypatch.setenv("MTD_SECRETS_DIR", str(secrets))
    monkeypatch.delenv("EXAMPLE_API_SECRET", raising=False)
    assert load_settings(ExampleSettings).api_secret.get_secret_value() == "from-a-file"
