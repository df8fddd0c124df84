"""`make up` end to end: six processes on embedded PostgreSQL and NATS, readiness that
follows the database, a clean `down`, and data kept across restarts."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from services.common.database import with_database
from services.stack.embedded import pid_alive
from services.stack.launcher import APPS, Stack

WITH_DATABASE = [app.name for app in APPS]


def stack_cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "NATS_URL")}
    env["MTD_LOCAL_DIR"] = str(root)
    return subprocess.run(
        [sys.executable, "-m", "services.stack", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def read_env(root: Path) -> dict[str, str]:
    lines = (root / "stack.env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line)


def readyz(url: str) -> httpx.Response:
    return httpx.get(f"{url}/readyz", timeout=5)


@pytest.fixture(scope="module")
def stack_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("stack")
    up = stack_cli(root, "up")
    assert up.returncode == 0, up.stdout + up.stderr
    yield root
    stack_cli(root, "down")


def test_up_starts_six_ready_services_and_writes_the_contract(stack_root: Path) -> None:
    env = read_env(stack_root)
    for key in (
        "AUTH_URL",
        "HMRC_GATEWAY_URL",
        "OBLIGATIONS_URL",
        "SUBMISSION_URL",
        "AUDIT_URL",
        "HMRC_SANDBOX_URL",
        "DATABASE_URL",
        "NATS_URL",
        "HMRC_CLIENT_ID",
        "HMRC_CLIENT_SECRET",
        "BOOTSTRAP_CLIENT_ID",
        "BOOTSTRAP_CLIENT_SECRET",
    ):
        assert env.get(key), f"{key} missing from stack.env"
    for app in APPS:
        response = readyz(env[app.url_key])
        assert response.status_code == 200, (app.name, response.text)
        checks = response.json()["checks"]
        assert checks["database"] == "ok"
        assert ("nats" in checks) == (app.name != "hmrc_sandbox")
    # The bootstrap client can sign in, so a script can build a tenant from nothing.
    token = httpx.post(
        f"{env['AUTH_URL']}/v1/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": env["BOOTSTRAP_CLIENT_ID"],
            "client_secret": env["BOOTSTRAP_CLIENT_SECRET"],
        },
        timeout=10,
    )
    assert token.status_code == 200, token.text
    assert token.json()["token_type"].lower() == "bearer"
    # None of them is the machine's own PostgreSQL or NATS.
    assert ":5432/" not in env["DATABASE_URL"]
    assert not env["NATS_URL"].endswith(":4222")


def test_readyz_is_503_while_the_database_is_stopped_and_recovers(stack_root: Path) -> None:
    env = read_env(stack_root)
    stack = Stack(stack_root)
    stack.postgres().stop()
    try:
        for app in APPS:
            response = readyz(env[app.url_key])
            assert response.status_code == 503, app.name
            assert response.headers["content-type"] == "application/problem+json"
            body = response.json()
            assert body["code"] == "NOT_READY"
            assert body["checks"]["database"] != "ok"
            # Liveness does not depend on the database: the process is fine.
            assert httpx.get(f"{env[app.url_key]}/healthz").status_code == 200
    finally:
        stack.postgres().start()
    for app in APPS:
        assert readyz(env[app.url_key]).status_code == 200, app.name


def test_status_reports_every_component(stack_root: Path) -> None:
    result = stack_cli(stack_root, "status")
    assert result.returncode == 0, result.stdout
    for app in APPS:
        assert f"{app.name}" in result.stdout
    assert result.stdout.count("ready") == len(APPS)


def test_one_service_is_killed_and_started_alone_and_nats_can_lose_its_store(
    stack_root: Path,
) -> None:
    """What the chaos drills do to the stack: SIGKILL one service and start it again with
    the same wiring, without touching the others; restart NATS with its store deleted."""
    env = read_env(stack_root)
    stack = Stack(stack_root)
    others = {app.name: stack.app_pid(app.name) for app in APPS if app.name != "submission"}
    killed = stack.kill_app("submission")
    assert not pid_alive(killed)
    assert stack.app_pid("submission") is None
    stack.start_app("submission")
    assert stack.app_pid("submission") not in (None, killed)
    assert readyz(env["SUBMISSION_URL"]).status_code == 200
    assert {name: stack.app_pid(name) for name in others} == others

    nats_pid = stack.nats().pid()
    store = stack.nats().store_dir
    assert any(store.iterdir())
    stack.restart_nats(wipe=True)
    assert stack.nats().pid() not in (None, nats_pid)
    assert not any(store.glob("**/*.blk")), "the old stream data is gone"
    stack.start_app("submission")  # ready again once it has NATS back
    for app in APPS:
        deadline = time.monotonic() + 30
        while readyz(env[app.url_key]).status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert readyz(env[app.url_key]).status_code == 200, app.name


def test_down_leaves_no_process_and_up_keeps_the_data(stack_root: Path) -> None:
    import asyncio

    import asyncpg

    env = read_env(stack_root)
    dsn = with_database(env["DATABASE_URL"], "mtd_audit").replace("+asyncpg", "")

    async def sql(statement: str, fetch: bool = True) -> object:
        conn = await asyncpg.connect(dsn)
        try:
            return await (conn.fetchval if fetch else conn.execute)(statement)
        finally:
            await conn.close()

    asyncio.run(sql("CREATE TABLE keepme (v text); INSERT INTO keepme VALUES ('x')", fetch=False))
    stack = Stack(stack_root)
    pids = [int(p.read_text()) for p in (stack_root / "run").glob("*.pid")]
    nats_pid = stack.nats().pid()
    assert len(pids) == len(APPS) and nats_pid

    down = stack_cli(stack_root, "down")
    assert down.returncode == 0, down.stderr
    assert not any(pid_alive(pid) for pid in [*pids, nats_pid])
    assert not stack.postgres().running()

    up = stack_cli(stack_root, "up")
    assert up.returncode == 0, up.stdout + up.stderr
    assert read_env(stack_root)["DATABASE_URL"] == env["DATABASE_URL"]
    assert asyncio.run(sql("SELECT count(*) FROM keepme")) == 1
