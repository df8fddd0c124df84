"""`make up` / `make down` / `make status` / `make logs`: the whole platform on one machine.

State lives under `.local/` (or `MTD_LOCAL_DIR`): `stack.json` keeps the chosen ports and
generated local credentials so a restart finds the same stack and data; `stack.env` is the
contract scripts, load tests and drills read.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.common import migrations
from services.common.database import redacted, with_database
from services.stack.embedded import (
    EmbeddedNats,
    EmbeddedPostgres,
    free_port,
    pid_alive,
    port_open,
)


@dataclass(frozen=True)
class App:
    name: str
    prefix: str
    url_key: str


# Services that call other services with a token of their own (role platform_service).
SERVICE_CLIENT_IDS = ("hmrc_gateway", "obligations", "submission")

APPS = (
    App("hmrc_sandbox", "HMRC_SANDBOX_", "HMRC_SANDBOX_URL"),
    App("audit", "AUDIT_", "AUDIT_URL"),
    App("auth", "AUTH_", "AUTH_URL"),
    App("hmrc_gateway", "HMRC_GATEWAY_", "HMRC_GATEWAY_URL"),
    App("obligations", "OBLIGATIONS_", "OBLIGATIONS_URL"),
    App("submission", "SUBMISSION_", "SUBMISSION_URL"),
)


def local_dir() -> Path:
    return Path(os.environ.get("MTD_LOCAL_DIR", ".local")).resolve()


def say(message: str) -> None:
    print(message, flush=True)


class Stack:
    def __init__(self, root: Path | None = None) -> None:
        self.root = root or local_dir()
        self.state_file = self.root / "stack.json"
        self.state: dict[str, Any] = (
            json.loads(self.state_file.read_text()) if self.state_file.exists() else {}
        )

    # -- state -----------------------------------------------------------------------------
    def _save(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.state_file.write_text(json.dumps(self.state, indent=2))
        self.state_file.chmod(0o600)

    def _port(self, key: str) -> int:
        ports: dict[str, int] = self.state.setdefault("ports", {})
        port = ports.get(key)
        if port is None or (port_open(port) and not self._owns(key)):
            port = free_port()
            ports[key] = port
        return port

    def _owns(self, key: str) -> bool:
        """Whether the process on our recorded port for `key` is ours (so reuse is right)."""
        if key == "postgres":
            return self.postgres().running()
        if key in {"nats", "nats_monitor"}:
            return self.nats().running()
        return self.app_pid(key) is not None

    def _secret(self, key: str, value: str | None = None) -> str:
        """A local credential, generated once (random unless `value`) and kept."""
        values: dict[str, str] = self.state.setdefault("secrets", {})
        if key not in values:
            values[key] = value or secrets.token_urlsafe(32)
        return values[key]

    def postgres(self) -> EmbeddedPostgres:
        port = self.state.get("ports", {}).get("postgres") or free_port()
        return EmbeddedPostgres(self.root / "postgres", port)

    def nats(self) -> EmbeddedNats:
        ports = self.state.get("ports", {})
        return EmbeddedNats(
            self.root / "nats",
            ports.get("nats") or free_port(),
            ports.get("nats_monitor") or free_port(),
        )

    def pid_file(self, name: str) -> Path:
        return self.root / "run" / f"{name}.pid"

    def log_file(self, name: str) -> Path:
        return self.root / "logs" / f"{name}.log"

    def app_pid(self, name: str) -> int | None:
        try:
            pid = int(self.pid_file(name).read_text())
        except (FileNotFoundError, ValueError):
            return None
        return pid if pid_alive(pid) else None

    def app_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.state['ports'][name]}"

    # -- up ----------------------------------------------------------------------------------
    def up(self, timeout: float = 90) -> dict[str, str]:
        started = time.monotonic()
        self.root.mkdir(parents=True, exist_ok=True)
        database_url = os.environ.get("DATABASE_URL")
        nats_url = os.environ.get("NATS_URL")
        if not database_url:
            self._port("postgres")
            self._save()
            say("postgres  starting embedded server …")
            database_url = self.postgres().start()
        if not nats_url:
            self._port("nats")
            self._port("nats_monitor")
            self._save()
            say("nats      starting embedded server with JetStream …")
            nats_url = self.nats().start()
        self.state["database_url"] = database_url
        self.state["nats_url"] = nats_url
        for app in APPS:
            self._port(app.name)
        credentials = self._credentials()
        envs = {app.name: self.app_env(app) for app in APPS}  # generates what is missing
        self._save()

        say("migrate   creating databases and running migrations …")
        self.migrate(database_url)

        for app in APPS:
            if self.app_pid(app.name) is None:
                self._spawn(app, envs[app.name])
        self._wait_ready(timeout)
        urls = self.write_env(database_url, nats_url, credentials)
        self._start_canary()
        self.print_table(urls)
        say(f"ready in {time.monotonic() - started:.1f}s; settings in {self.root / 'stack.env'}")
        return urls

    def _start_canary(self) -> None:
        """The synthetic canary every `MTD_CANARY_EVERY` seconds, serving /metrics for
        `make observe`. Off unless asked for: its sandbox journeys would otherwise show up
        in load tests, drills and golden runs that count what the simulator received."""
        every = os.environ.get("MTD_CANARY_EVERY")
        if not every:
            return
        port = self._port("canary")
        self._save()
        if self.app_pid("canary") is None:
            self.log_file("canary").parent.mkdir(parents=True, exist_ok=True)
            with self.log_file("canary").open("ab") as log:
                proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                    [
                        sys.executable,
                        "-m",
                        "services.canary",
                        "--stack-env",
                        str(self.root / "stack.env"),
                        "--every",
                        str(float(every)),
                        "--metrics-port",
                        str(port),
                    ],
                    env={**os.environ, "PYTHONUNBUFFERED": "1"},
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
            self.pid_file("canary").write_text(str(proc.pid))
        with (self.root / "stack.env").open("a") as env_file:
            env_file.write(f"CANARY_METRICS_URL=http://127.0.0.1:{port}\n")
        say(f"{'canary':<13} every {every}s  http://127.0.0.1:{port}/metrics")

    def _credentials(self) -> dict[str, str]:
        """The generated local credentials scripts read from stack.env (kept in stack.json)."""
        return {
            "HMRC_CLIENT_ID": self._secret("hmrc_client_id", "mtd-local-" + secrets.token_hex(6)),
            "HMRC_CLIENT_SECRET": self._secret("hmrc_client_secret"),
            "BOOTSTRAP_CLIENT_ID": self._secret("bootstrap_client_id", "mtd-bootstrap"),
            "BOOTSTRAP_CLIENT_SECRET": self._secret("bootstrap_client_secret"),
        }

    def app_env(self, app: App) -> dict[str, str]:
        """One service's settings (without its prefix), from the stack's state."""
        database_url: str = self.state["database_url"]
        credentials = self._credentials()
        # The platform's own services sign in to auth as API clients of their own.
        service_clients = {
            name: self._secret(f"{name}_client_secret") for name in SERVICE_CLIENT_IDS
        }
        env = {
            "ENVIRONMENT": "development",
            "AUTH_URL": self.app_url("auth"),
            "NATS_URL": self.state["nats_url"],
            "HOST": "127.0.0.1",
            "PORT": str(self.state["ports"][app.name]),
            "DATABASE_URL": with_database(database_url, migrations.database_name(app.name)),
        }
        extra = {
            "auth": {
                "HMRC_BASE_URL": self.app_url("hmrc_sandbox"),
                "HMRC_CLIENT_ID": credentials["HMRC_CLIENT_ID"],
                "HMRC_CLIENT_SECRET": credentials["HMRC_CLIENT_SECRET"],
                # A platform-admin client so scripts can create tenants from nothing.
                "BOOTSTRAP_CLIENT_ID": credentials["BOOTSTRAP_CLIENT_ID"],
                "BOOTSTRAP_CLIENT_SECRET": credentials["BOOTSTRAP_CLIENT_SECRET"],
                "SERVICE_CLIENTS": ",".join(f"{k}:{v}" for k, v in service_clients.items()),
                "DEV_SECRETS_DIR": str(self.root / "auth"),
            },
            "hmrc_gateway": {"HMRC_BASE_URL": self.app_url("hmrc_sandbox")},
            # Generated once and kept with the data, so a restart can read what was sealed.
            "audit": {
                "KEY_ENCRYPTION_KEY": self._secret(
                    "audit_key_encryption_key", base64.b64encode(secrets.token_bytes(32)).decode()
                )
            },
            "obligations": {"HMRC_GATEWAY_URL": self.app_url("hmrc_gateway")},
            "submission": {
                "HMRC_GATEWAY_URL": self.app_url("hmrc_gateway"),
                "OBLIGATIONS_URL": self.app_url("obligations"),
                # Seals webhook signing secrets; kept with the data like audit's key.
                "WEBHOOK_KEYS": self._secret(
                    "submission_webhook_keys", base64.b64encode(secrets.token_bytes(32)).decode()
                ),
            },
            # The simulator knows the platform's application and lets tests steer it.
            "hmrc_sandbox": {
                "CLIENT_ID": credentials["HMRC_CLIENT_ID"],
                "CLIENT_SECRET": credentials["HMRC_CLIENT_SECRET"],
                "CONTROL_ENABLED": "true",
            },
        }
        env.update(extra.get(app.name, {}))
        if app.name in service_clients:
            env["CLIENT_ID"] = app.name
            env["CLIENT_SECRET"] = service_clients[app.name]
        return env

    def migrate(self, database_url: str) -> None:
        for app in APPS:
            name = migrations.database_name(app.name)
            asyncio.run(migrations.ensure_database(database_url, name))
            migrations.upgrade(app.name, with_database(database_url, name))

    def _spawn(self, app: App, env: dict[str, str]) -> None:
        self.pid_file(app.name).parent.mkdir(parents=True, exist_ok=True)
        self.log_file(app.name).parent.mkdir(parents=True, exist_ok=True)
        # The stack's wiring first; a setting given in make's environment wins, so a load
        # test can run e.g. `HMRC_GATEWAY_RATE_PER_SECOND=100 make up`.
        child_env = {app.prefix + k: v for k, v in env.items()}
        child_env.update(os.environ)
        child_env["PYTHONUNBUFFERED"] = "1"
        with self.log_file(app.name).open("ab") as log:
            proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                [sys.executable, "-m", f"services.{app.name}"],
                env=child_env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.pid_file(app.name).write_text(str(proc.pid))

    def ready(self, name: str) -> bool:
        try:
            with urllib.request.urlopen(self.app_url(name) + "/readyz", timeout=1) as r:  # noqa: S310
                return bool(r.status == 200)
        except OSError:
            return False

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        pending = [app.name for app in APPS]
        while pending and time.monotonic() < deadline:
            for name in list(pending):
                if self.ready(name):
                    pending.remove(name)
                    say(f"{name:<13} ready   {self.app_url(name)}")
                elif self.app_pid(name) is None:
                    self._explain_exit(name)
            time.sleep(0.2)
        if pending:
            raise SystemExit(f"not ready after {timeout:g}s: {', '.join(pending)} (see make logs)")

    def _explain_exit(self, name: str) -> None:
        tail = self.log_file(name).read_text(errors="replace").strip().splitlines()[-5:]
        raise SystemExit(f"{name} exited during start-up:\n  " + "\n  ".join(tail))

    def write_env(
        self, database_url: str, nats_url: str, credentials: dict[str, str]
    ) -> dict[str, str]:
        urls = {app.url_key: self.app_url(app.name) for app in APPS}
        values = {**urls, "DATABASE_URL": database_url, "NATS_URL": nats_url, **credentials}
        env_file = self.root / "stack.env"
        env_file.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
        env_file.chmod(0o600)
        return urls

    def print_table(self, urls: dict[str, str]) -> None:
        say("")
        say(f"{'service':<14} {'url':<28} {'pid':>7}")
        for app in APPS:
            say(f"{app.name:<14} {urls[app.url_key]:<28} {self.app_pid(app.name) or '-':>7}")
        say(f"{'postgres':<14} {redacted(self.state['database_url'])}")
        say(f"{'nats':<14} {self.state['nats_url']}")

    # -- down / status / logs ----------------------------------------------------------------
    def stop_app(self, name: str, sig: int = signal.SIGTERM, timeout: float = 15) -> None:
        pid = self.app_pid(name)
        if pid is None:
            self.pid_file(name).unlink(missing_ok=True)
            return
        with suppress(ProcessLookupError):
            os.killpg(pid, sig)
        deadline = time.monotonic() + timeout
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if pid_alive(pid):
            os.killpg(pid, signal.SIGKILL)
        self.pid_file(name).unlink(missing_ok=True)

    # -- faults for the chaos drills (chaos/drills) -------------------------------------------
    def kill_app(self, name: str) -> int:
        """SIGKILL one service's process group, as a crashed pod; returns the pid killed."""
        pid = self.app_pid(name)
        if pid is None:
            raise RuntimeError(f"{name} is not running")
        self.stop_app(name, signal.SIGKILL, timeout=10)
        return pid

    def start_app(self, name: str, timeout: float = 60, *, wait: bool = True) -> None:
        """Start one stopped service with the wiring `up` gave it and (unless told not to)
        wait until it is ready — what a kubelet does for a crashed pod; no migrations."""
        app = next(a for a in APPS if a.name == name)
        if self.app_pid(name) is None:
            self._spawn(app, self.app_env(app))
        if not wait:
            return
        deadline = time.monotonic() + timeout
        while not self.ready(name):
            if self.app_pid(name) is None:
                self._explain_exit(name)
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name} not ready after {timeout:g}s")
            time.sleep(0.2)

    def restart_nats(self, *, wipe: bool = False) -> None:
        """Stop the embedded NATS and start it again; `wipe` kills it and deletes its
        JetStream store first (the broker's whole data directory is lost)."""
        nats = self.nats()
        if wipe:
            nats.stop(signal.SIGKILL)
            shutil.rmtree(nats.store_dir, ignore_errors=True)
        else:
            nats.stop()
        nats.start()

    def restart_postgres(self, mode: str = "fast") -> None:
        """Stop the embedded PostgreSQL (`immediate` is a crash) and start it again."""
        pg = self.postgres()
        pg.stop(mode)
        pg.start()

    def down(self) -> None:
        self.stop_app("canary")
        for app in reversed(APPS):
            if self.app_pid(app.name) is not None:
                say(f"stopping {app.name}")
            self.stop_app(app.name)
        if self.nats().running():
            say("stopping nats")
            self.nats().stop()
        if self.postgres().running():
            say("stopping postgres")
            self.postgres().stop()
        say("stack stopped; data kept in " + str(self.root))

    def status(self) -> bool:
        all_ok = True
        say(f"{'component':<14} {'state':<10} {'where'}")
        for app in APPS:
            if "ports" not in self.state:
                break
            up = self.app_pid(app.name) is not None
            state = "ready" if up and self.ready(app.name) else ("starting" if up else "stopped")
            all_ok &= state == "ready"
            say(f"{app.name:<14} {state:<10} {self.app_url(app.name)}")
        if "ports" in self.state and "postgres" in self.state["ports"]:
            say(f"{'postgres':<14} {'running' if self.postgres().running() else 'stopped':<10}")
        if "ports" in self.state and "nats" in self.state["ports"]:
            say(f"{'nats':<14} {'running' if self.nats().running() else 'stopped':<10}")
        return all_ok

    def logs(self, name: str | None, lines: int) -> None:
        names = [name] if name else [app.name for app in APPS]
        for n in names:
            path = self.log_file(n)
            if not path.exists():
                continue
            say(f"==> {n} <==")
            for line in path.read_text(errors="replace").splitlines()[-lines:]:
                say(line)
