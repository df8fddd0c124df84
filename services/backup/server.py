"""PostgreSQL servers the backup tools start themselves (the drill's source, every restore
target), from the same `pgserver` binaries as the local stack, plus the client tools."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import time
import warnings
from collections.abc import Mapping
from pathlib import Path

from services.stack.embedded import PG_USER, EmbeddedPostgres


def conf_line(name: str, value: str) -> str:
    return f"{name} = '{value.replace(chr(39), chr(39) * 2)}'\n"


class PgServer(EmbeddedPostgres):
    """An EmbeddedPostgres whose extra settings go into postgresql.auto.conf (last wins)."""

    def __init__(self, datadir: Path, port: int, settings: Mapping[str, str] | None = None):
        super().__init__(datadir, port, durable=True)
        self.settings = dict(settings or {})

    def tool(self, name: str) -> str:
        return str(self.bin / name)

    def start(self, timeout: float = 600) -> str:
        self.init()
        with open(self.datadir / "postgresql.auto.conf", "a") as conf:
            for name, value in self.settings.items():
                conf.write(conf_line(name, value))
        self.own(self.datadir)
        options = f"-p {self.port} -h 127.0.0.1 -k {self.datadir} -c max_connections=100"
        result = self._run(
            "pg_ctl", "-D", str(self.datadir), "-l", str(self.log_file), "-o", options,
            "-w", "-t", str(int(timeout)), "start",
            timeout=timeout + 30,
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(f"PostgreSQL did not start: {result.stderr.strip()}\n{self.log()}")
        return self.url

    def log(self) -> str:
        return self.log_file.read_text(errors="replace")[-3000:] if self.log_file.exists() else ""

    def own(self, path: Path) -> None:
        """Hand a directory tree to the server's system user (PostgreSQL refuses root)."""
        if self.user is None:
            return
        entry = pwd.getpwnam(self.user)
        for root, _dirs, files in os.walk(path):
            os.chown(root, entry.pw_uid, entry.pw_gid)
            for name in files:
                os.chown(os.path.join(root, name), entry.pw_uid, entry.pw_gid)
        path.chmod(0o700)

    def crash(self) -> None:
        """Stop without a checkpoint or a last WAL archive, as a lost machine would."""
        self._run("pg_ctl", "-D", str(self.datadir), "-m", "immediate", "-w", "stop")

    def destroy(self) -> None:
        self.crash()
        shutil.rmtree(self.datadir, ignore_errors=True)

    def wait_promoted(self, timeout: float = 600) -> None:
        """Wait until recovery has ended and the server accepts writes."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = self.psql("postgres", "SELECT pg_is_in_recovery()")
            if result.returncode == 0 and result.stdout.strip() == "f":
                return
            time.sleep(0.2)
        raise TimeoutError(f"recovery did not finish in {timeout:g}s\n{self.log()}")

    def psql(self, database: str, sql: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 - our own binary, fixed arguments
            [self.tool("psql"), "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1",
             "-h", "127.0.0.1", "-p", str(self.port), "-U", PG_USER, "-d", database, "-c", sql],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip


def pg_bin() -> Path:
    """Where the PostgreSQL tools are: BACKUP_PG_BIN, else the `pgserver` wheel's
    pginstall/bin (development, tests, the drill), else the tools on PATH (an image with
    the distribution's client package, same major version as the server)."""
    if configured := os.environ.get("BACKUP_PG_BIN"):
        return Path(configured)
    try:
        with warnings.catch_warnings():  # pgserver warns about XDG_RUNTIME_DIR on import
            warnings.simplefilter("ignore")
            import pgserver._commands as pg_commands
    except ImportError:
        found = shutil.which("pg_basebackup")
        if found is None:
            raise FileNotFoundError(
                "no PostgreSQL client tools: set BACKUP_PG_BIN or install pg_basebackup"
            ) from None
        return Path(found).parent
    return Path(pg_commands.POSTGRES_BIN_PATH)


def write_private(path: Path, text: str, user: str | None) -> Path:
    """A file only `user` (the server's system user, or us) can read."""
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o400)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(path, entry.pw_uid, entry.pw_gid)
    return path
