"""`python -m deploy.migrate`, the command of the chart's migration Job."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from deploy import migrate
from services.common import migrations
from services.common.database import async_url, with_database
from tests.charts.chart import ROOT


def test_url_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HMRC_GATEWAY_DATABASE_URL", "postgresql://u:p@db/mtd_hmrc_gateway")
    assert migrate.database_url("hmrc_gateway") == "postgresql://u:p@db/mtd_hmrc_gateway"


def test_url_from_secret_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("AUDIT_DATABASE_URL", raising=False)
    monkeypatch.setenv("MTD_SECRETS_DIR", str(tmp_path))
    (tmp_path / "AUDIT_DATABASE_URL").write_text("postgresql://u:p@db/mtd_audit\n")
    assert migrate.database_url("audit") == "postgresql://u:p@db/mtd_audit"


def test_missing_url_names_the_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("AUTH_DATABASE_URL", raising=False)
    monkeypatch.setenv("MTD_SECRETS_DIR", str(tmp_path))
    with pytest.raises(SystemExit, match="AUTH_DATABASE_URL is required"):
        migrate.database_url("auth")


def test_unknown_service_is_refused() -> None:
    with pytest.raises(SystemExit):
        migrate.main(["billing"])


async def test_migrates_a_real_database(pg_url: str) -> None:
    name = f"test_deploy_{os.getpid()}"
    await migrations.ensure_database(pg_url, name)
    url = with_database(pg_url, name)
    env = {**os.environ, "OBLIGATIONS_DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    proc = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "deploy.migrate", "obligations"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    dsn = async_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    try:
        version = await conn.fetchval("SELECT version_num FROM alembic_version")
    finally:
        await conn.close()
    assert version == migrations.head_revision("obligations")
    assert "obligations: at" in proc.stdout


def test_services_read_the_file_the_chart_mounts(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The chart mounts the URL as <PREFIX>DATABASE_URL in MTD_SECRETS_DIR; the real settings
    class must pick it up from there (no environment variable)."""
    from services.common.settings import load_settings
    from services.obligations.settings import ObligationsSettings

    monkeypatch.delenv("OBLIGATIONS_DATABASE_URL", raising=False)
    monkeypatch.setenv("MTD_SECRETS_DIR", str(tmp_path))
    (tmp_path / "OBLIGATIONS_DATABASE_URL").write_text("postgresql://u:p@db/mtd_obligations")
    settings = load_settings(ObligationsSettings)
    assert settings.database_url is not None
    assert settings.database_url.get_secret_value() == "postgresql://u:p@db/mtd_obligations"
