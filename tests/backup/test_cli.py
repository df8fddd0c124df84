"""`python -m services.backup` as a real process: backup into the catalog, the age metric,
and the key rules (never a default key outside development)."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import time
from pathlib import Path

from services.backup.catalog import Catalog, parse_time
from tests.backup.conftest import BackedUp


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("BACKUP_")}
    return subprocess.run(
        [sys.executable, "-m", "services.backup", *args],
        capture_output=True, text=True, env={**clean, **env}, timeout=240, check=False,
    )  # fmt: skip


def server_env(backed_up: BackedUp, root: Path) -> dict[str, str]:
    return {
        "BACKUP_DATABASE_URL": f"postgresql://postgres@127.0.0.1:{backed_up.site.server.port}/postgres",
        "BACKUP_DIR": str(root),
    }


def test_backup_records_both_kinds_and_publishes_their_age(
    backed_up: BackedUp, tmp_path: Path
) -> None:
    root, metrics_file = tmp_path / "backups", tmp_path / "textfile" / "backup.prom"
    env = {
        **server_env(backed_up, root),
        "BACKUP_ENVIRONMENT": "production",
        "BACKUP_ENCRYPTION_KEY": backed_up.key_text,
        "BACKUP_METRICS_FILE": str(metrics_file),
    }
    before = time.time()
    result = run(env, "backup")
    after = time.time()
    assert result.returncode == 0, result.stderr
    assert backed_up.key_text not in result.stdout + result.stderr
    backups = Catalog(root).backups()
    assert sorted(b.kind for b in backups) == ["base", "logical"]
    dumped = {a.database for b in backups for a in b.artefacts if a.database}
    assert {"mtd_audit", "mtd_submission"} <= dumped
    text = metrics_file.read_text()
    for kind in ("base", "logical"):
        match = re.search(
            rf'^backup_last_success_timestamp_seconds{{kind="{kind}"}} ([0-9.]+)$', text, re.M
        )
        assert match, text
        assert before <= float(match.group(1)) <= after
        newest = Catalog(root).latest(kind)
        assert abs(float(match.group(1)) - parse_time(newest.finished_at).timestamp()) < 0.01
    listed = run(env, "list")
    assert listed.returncode == 0
    for b in backups:
        assert b.id in listed.stdout
    assert run(env, "verify", "--deep").returncode == 0


def test_a_failed_backup_is_a_metric_too(tmp_path: Path, key_text: str) -> None:
    root = tmp_path / "backups"
    env = {
        "BACKUP_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/postgres",
        "BACKUP_DIR": str(root),
        "BACKUP_ENCRYPTION_KEY": key_text,
        "BACKUP_METRICS_FILE": str(tmp_path / "backup.prom"),
    }
    result = run(env, "backup", "--kind", "base")
    assert result.returncode == 1
    assert Catalog(root).backups() == []
    text = (tmp_path / "backup.prom").read_text()
    assert 'backup_last_failure_timestamp_seconds{kind="base"}' in text
    assert "backup_last_success_timestamp_seconds{" not in text


def test_no_key_outside_development_refuses(backed_up: BackedUp, tmp_path: Path) -> None:
    root = tmp_path / "backups"
    env = {**server_env(backed_up, root), "BACKUP_ENVIRONMENT": "production"}
    result = run(env, "backup", "--kind", "base")
    assert result.returncode == 1
    assert "BACKUP_ENCRYPTION_KEY" in result.stderr
    assert "required outside development" in result.stderr
    assert not (root / "development.key").exists()
    assert Catalog(root).backups() == []

    placeholder = run({**env, "BACKUP_ENCRYPTION_KEY": "changeme"}, "backup")
    assert placeholder.returncode == 2
    assert "BACKUP_ENCRYPTION_KEY holds a placeholder secret" in placeholder.stderr


def test_key_from_a_secrets_dir_file(backed_up: BackedUp, tmp_path: Path) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "BACKUP_ENCRYPTION_KEY").write_text(backed_up.key_text)
    root = tmp_path / "backups"
    env = {
        **server_env(backed_up, root),
        "BACKUP_ENVIRONMENT": "production",
        "MTD_SECRETS_DIR": str(secrets),
    }
    assert run(env, "backup", "--kind", "logical").returncode == 0
    from services.backup.keys import key_id

    assert Catalog(root).latest("logical").key_id == key_id(backed_up.key).hex()


def test_development_generates_one_private_key(backed_up: BackedUp, tmp_path: Path) -> None:
    root = tmp_path / "backups"
    env = {**server_env(backed_up, root), "BACKUP_ENVIRONMENT": "development"}
    assert run(env, "backup", "--kind", "logical").returncode == 0
    key_file = root / "development.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert run(env, "backup", "--kind", "logical").returncode == 0
    ids = {b.key_id for b in Catalog(root).backups()}
    assert len(ids) == 1, "the same generated key is used again"
    catalog = json.loads((root / "catalog.json").read_text())
    assert key_file.read_text().strip() not in json.dumps(catalog)


def test_wal_agent_seals_what_the_server_spools(tmp_path: Path, key_text: str) -> None:
    """The shape of `make up` with archiving: the server spools, a separate process seals."""
    from services.backup import wal
    from services.backup.keys import parse_key
    from services.backup.server import PgServer
    from services.backup.site import archive_settings
    from services.stack.embedded import free_port

    spool, root = tmp_path / "spool", tmp_path / "backups"
    spool.mkdir(mode=0o700)
    server = PgServer(tmp_path / "pgdata", free_port())
    server.init()
    server.own(spool)
    server.settings = archive_settings(spool, archive_timeout=60)
    server.start()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("BACKUP_")}
    env = {**clean, "BACKUP_DIR": str(root), "BACKUP_ENCRYPTION_KEY": key_text}
    agent = subprocess.Popen(
        [sys.executable, "-m", "services.backup", "wal-agent", "--spool", str(spool)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        switched = server.psql(
            "postgres",
            "CREATE TABLE t AS SELECT 1 AS x; SELECT pg_walfile_name(pg_switch_wal())",
        )
        assert switched.returncode == 0, switched.stderr
        name = switched.stdout.strip().splitlines()[-1]
        deadline = time.monotonic() + 60
        while not (root / "wal" / f"{name}.json").exists():
            assert agent.poll() is None, agent.communicate()
            assert time.monotonic() < deadline, "the agent never sealed the spooled WAL"
            time.sleep(0.2)
    finally:
        agent.terminate()
        _, stderr = agent.communicate(timeout=30)
        server.stop(mode="immediate")
    assert agent.returncode == 0, stderr
    assert not (spool / name).exists(), "sealed files leave the spool"
    opened = tmp_path / "opened"
    assert wal.fetch(name, opened, root / "wal", parse_key(key_text))
    assert opened.stat().st_size == 16 * 1024 * 1024


def test_restore_command_brings_up_a_fresh_server(backed_up: BackedUp, tmp_path: Path) -> None:
    from services.backup.server import PgServer
    from services.stack.embedded import free_port

    port = free_port()
    target = tmp_path / "restored"
    env = {
        "BACKUP_DIR": str(backed_up.root),
        "BACKUP_ENCRYPTION_KEY": backed_up.key_text,
        "BACKUP_ENVIRONMENT": "production",
    }
    result = run(env, "restore", "--to", str(target), "--port", str(port))
    server = PgServer(target, port)
    try:
        assert result.returncode == 0, result.stderr
        assert f"127.0.0.1:{port}" in result.stdout
        count = server.psql("mtd_submission", "SELECT count(*) FROM submissions")
        assert count.stdout.strip() == str(sum(backed_up.expected.states.values()))
        assert not list(tmp_path.glob("*.wal-staged")), "opened WAL is removed after recovery"
    finally:
        server.stop(mode="immediate")


def test_the_operators_cli_runs_backups_too(backed_up: BackedUp, tmp_path: Path) -> None:
    """`mtdvat backup …` is the same command: a backup taken through it is in the catalog
    and its listing names it."""
    root = tmp_path / "backups"
    env = {**server_env(backed_up, root), "BACKUP_ENCRYPTION_KEY": backed_up.key_text}
    clean = {k: v for k, v in os.environ.items() if not k.startswith("BACKUP_")}
    taken = subprocess.run(
        [sys.executable, "-m", "services.cli", "backup", "backup"],
        capture_output=True, text=True, env={**clean, **env}, timeout=240, check=False,
    )  # fmt: skip
    assert taken.returncode == 0, taken.stderr
    ids = [b.id for b in Catalog(root).backups()]
    assert len(ids) == 2
    listed = subprocess.run(
        [sys.executable, "-m", "services.cli", "backup", "list"],
        capture_output=True, text=True, env={**clean, **env}, timeout=60, check=False,
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    assert all(i[:8] in listed.stdout for i in ids)
