"""`make observe`: a real Prometheus scraping the local stack with the platform's rules."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast

import pytest

from deploy import observe
from tests.observability.sources import ROOT, rule_groups, tool

# What a submission replica would expose once the queue metrics exist: a return waiting
# for 20 minutes is over the 15-minute budget.
METRICS = b"""\
# TYPE http_server_requests_total counter
http_server_requests_total{service="submission",method="GET",route="/v1/status",status="200"} 3
# TYPE submission_queue_oldest_age_seconds gauge
submission_queue_oldest_age_seconds 1200
"""


class FakeService(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path != "/metrics":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.end_headers()
        self.wfile.write(METRICS)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Path]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeService)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    local = tmp_path / "local"
    local.mkdir()
    (local / "stack.env").write_text(
        f"SUBMISSION_URL={url}\nAUTH_URL={url}\n"
        "DATABASE_URL=postgresql://x@127.0.0.1:1/x\nNATS_URL=nats://127.0.0.1:1\n"
        "BOOTSTRAP_CLIENT_SECRET=not-a-target\n"
    )
    yield local
    server.shutdown()
    server.server_close()


def get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def observe_cli(local: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "deploy.observe", *args, "--local", str(local), "--interval", "1s"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_service_targets_from_stack_env() -> None:
    env = {
        "AUTH_URL": "http://127.0.0.1:8001",
        "HMRC_GATEWAY_URL": "http://127.0.0.1:8002/",
        "DATABASE_URL": "postgresql://u@127.0.0.1:5432/db",
        "NATS_URL": "nats://127.0.0.1:4222",
        "HMRC_CLIENT_ID": "abc",
    }
    assert observe.service_targets(env) == {
        "auth": "127.0.0.1:8001",
        "hmrc_gateway": "127.0.0.1:8002",
    }


def test_observe_scrapes_the_stack_with_the_platform_rules(stack: Path) -> None:
    tool("promtool")
    tool("prometheus")
    started = observe_cli(stack, "up")
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        state = json.loads((stack / "observe" / "state.json").read_text())
        url = state["url"]
        assert url.startswith("http://127.0.0.1:") and url in started.stdout
        config = json.loads((stack / "observe" / "prometheus.yml").read_text())
        assert config["rule_files"] == [
            str(p) for p in sorted((ROOT / "deploy" / "prometheus" / "rules").glob("*.yaml"))
        ]
        loaded = {g["name"] for g in get(f"{url}/api/v1/rules")["data"]["groups"]}
        assert loaded == {g["name"] for g in rule_groups()}

        # Both targets scraped, labelled as the cluster's ServiceMonitor labels them, and the
        # backlog alert on its way (pending for its `for`, then firing).
        deadline = time.monotonic() + 30
        alerts: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            up = get(f"{url}/api/v1/query?query=up")["data"]["result"]
            alerts = get(f"{url}/api/v1/alerts")["data"]["alerts"]
            names = {a["labels"]["alertname"] for a in alerts}
            if len(up) == 2 and "MtdVatSubmissionBacklogOverBudget" in names:
                break
            time.sleep(0.5)
        assert {(r["metric"]["component"], r["value"][1]) for r in up} == {
            ("auth", "1"),
            ("submission", "1"),
        }
        assert all(r["metric"]["platform"] == "mtd-vat" for r in up)
        (backlog,) = [
            a for a in alerts if a["labels"]["alertname"] == "MtdVatSubmissionBacklogOverBudget"
        ]
        assert backlog["labels"]["namespace"] == "local"
        assert backlog["state"] in {"pending", "firing"}

        # A second `up` finds the running server and reloads it.
        again = observe_cli(stack, "up")
        assert again.returncode == 0 and "reloaded" in again.stdout, again.stdout + again.stderr
        assert json.loads((stack / "observe" / "state.json").read_text())["url"] == url
    finally:
        stopped = observe_cli(stack, "down")
    assert stopped.returncode == 0, stopped.stderr
    assert observe_cli(stack, "status").stdout.strip() == "prometheus is not running"


def test_observe_without_a_stack_says_what_to_do(tmp_path: Path) -> None:
    result = observe_cli(tmp_path, "up")
    assert result.returncode != 0
    assert "make up" in result.stderr


def test_the_canary_is_scraped_as_its_own_job_when_the_stack_runs_it(tmp_path: Path) -> None:
    env = {"AUTH_URL": "http://127.0.0.1:8001", "CANARY_METRICS_URL": "http://127.0.0.1:9469"}
    assert observe.service_targets(env) == {"auth": "127.0.0.1:8001"}
    config = observe.prometheus_config(
        observe.service_targets(env), [], "30s", observe.canary_target(env)
    )
    scrape_configs = cast(list[dict[str, Any]], config["scrape_configs"])
    jobs = {job["job_name"]: job for job in scrape_configs}
    (canary,) = jobs["canary"]["static_configs"]
    assert canary["targets"] == ["127.0.0.1:9469"]
    assert canary["labels"]["namespace"] == "local"
    # promtool accepts the configuration with the canary job in it.
    path = tmp_path / "prometheus.yml"
    path.write_text(json.dumps(config))
    checked = subprocess.run(
        [tool("promtool"), "check", "config", str(path)], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert observe.canary_target({"AUTH_URL": "http://127.0.0.1:8001"}) is None
