"""A real Prometheus for the local stack: ``python -m deploy.observe [up|down|status]``.

``up`` reads ``.local/stack.env`` (written by ``make up``), writes ``.local/observe/
prometheus.yml`` with one scrape target per service and the platform's own rule files
(``deploy/prometheus/rules/*.yaml``, the same ones the chart ships), starts Debian's
``prometheus`` on a free loopback port and prints its URL. Targets get the labels the
chart's ServiceMonitor gives them in a cluster (``platform="mtd-vat"``, ``component``,
``namespace="local"``), so the recording rules and alerts select the same series and an
SRE sees on one machine what the cluster would alert on. When stack.env names the
canary's metrics (``CANARY_METRICS_URL``) it is scraped as job ``canary``, so the canary
alerts work locally too. Run it again after ``make up``
moved a port and it rewrites the configuration and reloads; ``down`` stops it. There is no
Alertmanager here: the Prometheus UI's Alerts page shows what would be sent.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import suppress
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
RULES_DIR = ROOT / "deploy" / "prometheus" / "rules"
# The local stack's canary (`python -m services.canary --every … --metrics-port …`) serves
# its metrics here; in a cluster they reach Prometheus through a Pushgateway, job="canary".
CANARY_KEY = "CANARY_METRICS_URL"
# Keys of stack.env that are servers or the canary, not platform services.
NOT_SERVICES = frozenset({"DATABASE_URL", "NATS_URL", CANARY_KEY})
# The chart's ServiceMonitor scrapes every 30 s; evaluate as often.
DEFAULT_INTERVAL = "30s"


def say(message: str) -> None:
    sys.stdout.write(message + "\n")
    sys.stdout.flush()


def read_env(path: Path) -> dict[str, str]:
    """``KEY=value`` lines; blank lines and ``#`` comments are skipped."""
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        values[key.strip()] = value.strip()
    return values


def service_targets(env: dict[str, str]) -> dict[str, str]:
    """``{service: host:port}`` for every ``<SERVICE>_URL`` in stack.env."""
    targets: dict[str, str] = {}
    for key, url in sorted(env.items()):
        if not key.endswith("_URL") or key in NOT_SERVICES:
            continue
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            continue
        targets[key.removesuffix("_URL").lower()] = parts.netloc
    return targets


def canary_target(env: dict[str, str]) -> str | None:
    """``host:port`` of the canary's /metrics when stack.env names it."""
    parts = urlsplit(env.get(CANARY_KEY, ""))
    return parts.netloc if parts.scheme in {"http", "https"} and parts.netloc else None


def canary_job(address: str) -> dict[str, object]:
    # The same job name and labels a Pushgateway's series carry in the cluster.
    return {
        "job_name": "canary",
        "metrics_path": "/metrics",
        "honor_labels": True,
        "static_configs": [
            {"targets": [address], "labels": {"namespace": "local", "component": "canary"}}
        ],
    }


def prometheus_config(
    targets: dict[str, str], rule_files: list[Path], interval: str, canary: str | None = None
) -> dict[str, object]:
    return {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "rule_files": [str(p) for p in rule_files],
        "scrape_configs": [
            *([canary_job(canary)] if canary else []),
            {
                "job_name": "mtd-vat",
                "metrics_path": "/metrics",
                # The services label their own series with `service`; keep it.
                "honor_labels": True,
                "static_configs": [
                    {
                        "targets": [address],
                        "labels": {
                            "platform": "mtd-vat",
                            "component": name,
                            "namespace": "local",
                            "pod": f"{name}-local",
                        },
                    }
                    for name, address in sorted(targets.items())
                ],
            },
        ],
    }


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def http_ok(url: str, method: str = "GET") -> bool:
    request = urllib.request.Request(url, method=method)  # noqa: S310 (loopback URL we built)
    try:
        with urllib.request.urlopen(request, timeout=2) as response:  # noqa: S310
            return 200 <= int(response.status) < 300
    except (urllib.error.URLError, OSError):
        return False


class Observer:
    def __init__(self, local: Path, interval: str = DEFAULT_INTERVAL) -> None:
        self.local = local
        self.dir = local / "observe"
        self.interval = interval

    @property
    def state_file(self) -> Path:
        return self.dir / "state.json"

    @property
    def config_file(self) -> Path:
        return self.dir / "prometheus.yml"

    def state(self) -> dict[str, object] | None:
        with suppress(FileNotFoundError, ValueError):
            data = json.loads(self.state_file.read_text())
            pid = data.get("pid") if isinstance(data, dict) else None
            if isinstance(pid, int) and pid_alive(pid):
                return dict(data)
        return None

    def write_config(self) -> int:
        env_file = self.local / "stack.env"
        if not env_file.exists():
            raise SystemExit(f"{env_file} not found: start the stack with `make up` first")
        env = read_env(env_file)
        targets = service_targets(env)
        if not targets:
            raise SystemExit(f"{env_file} names no service URL")
        rules = sorted(RULES_DIR.glob("*.yaml"))
        self.dir.mkdir(parents=True, exist_ok=True)
        # JSON is YAML: no YAML library needed at run time.
        config = prometheus_config(targets, rules, self.interval, canary_target(env))
        self.config_file.write_text(json.dumps(config, indent=2) + "\n")
        return len(targets)

    def check_config(self, promtool: str | None) -> None:
        if promtool is None:
            return
        result = subprocess.run(  # noqa: S603 (fixed argv)
            [promtool, "check", "config", str(self.config_file)],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise SystemExit(
                f"promtool rejected {self.config_file}:\n{result.stdout}{result.stderr}"
            )

    def up(self) -> str:
        prometheus = shutil.which("prometheus")
        if prometheus is None:
            raise SystemExit("prometheus not found: apt-get install -y prometheus (as root)")
        count = self.write_config()
        self.check_config(shutil.which("promtool"))
        running = self.state()
        if running is not None:
            url = str(running["url"])
            if not http_ok(f"{url}/-/reload", method="POST"):
                raise SystemExit(f"Prometheus at {url} did not reload; try `down` then `up`")
            self.announce(url, count, "reloaded")
            return url
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        data = self.dir / "data"
        data.mkdir(parents=True, exist_ok=True)
        log = (self.dir / "prometheus.log").open("ab")
        process = subprocess.Popen(  # noqa: S603 (fixed argv)
            [
                prometheus,
                f"--config.file={self.config_file}",
                f"--storage.tsdb.path={data}",
                "--storage.tsdb.retention.time=7d",
                f"--web.listen-address=127.0.0.1:{port}",
                f"--web.external-url={url}",
                "--web.enable-lifecycle",
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.state_file.write_text(json.dumps({"pid": process.pid, "url": url}) + "\n")
        deadline = time.monotonic() + 30
        while not http_ok(f"{url}/-/ready"):
            if process.poll() is not None:
                tail = (self.dir / "prometheus.log").read_text(errors="replace").splitlines()[-5:]
                raise SystemExit("prometheus exited during start-up:\n  " + "\n  ".join(tail))
            if time.monotonic() > deadline:
                raise SystemExit(
                    f"prometheus not ready after 30s; see {self.dir / 'prometheus.log'}"
                )
            time.sleep(0.2)
        self.announce(url, count, "started")
        return url

    def announce(self, url: str, targets: int, what: str) -> None:
        say(f"prometheus {what}: {url}  ({targets} targets, rules from {RULES_DIR})")
        say(f"  targets {url}/targets   alerts {url}/alerts   rules {url}/rules")
        say(f"  config {self.config_file}; stop with `python -m deploy.observe down`")

    def down(self) -> None:
        running = self.state()
        if running is None:
            say("prometheus is not running")
            self.state_file.unlink(missing_ok=True)
            return
        pid = int(str(running["pid"]))
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        while pid_alive(pid) and time.monotonic() < deadline:
            with suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            time.sleep(0.1)
        if pid_alive(pid):
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.state_file.unlink(missing_ok=True)
        say("prometheus stopped")

    def status(self) -> None:
        running = self.state()
        say(f"prometheus running at {running['url']}" if running else "prometheus is not running")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m deploy.observe", description=__doc__)
    parser.add_argument("command", nargs="?", default="up", choices=["up", "down", "status"])
    parser.add_argument(
        "--local",
        type=Path,
        # The same directory `make up` uses (services/stack: MTD_LOCAL_DIR, else .local).
        default=Path(os.environ.get("MTD_LOCAL_DIR", ROOT / ".local")).resolve(),
        help="the stack's directory (stack.env)",
    )
    parser.add_argument("--interval", default=DEFAULT_INTERVAL, help="scrape and rule interval")
    args = parser.parse_args(argv)
    observer = Observer(args.local, args.interval)
    if args.command == "up":
        observer.up()
    elif args.command == "down":
        observer.down()
    else:
        observer.status()


if __name__ == "__main__":
    main()
