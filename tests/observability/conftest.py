"""One local stack for the end-to-end observability tests (traces, metrics, logs, canary),
started only when a test asks for it and stopped when the package's tests are done."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from services.stack.embedded import free_port
from tests.observability.collector import Collector, running_collector
from tests.observability.e2e import (
    Run,
    auth_day,
    hmrc_access_token,
    one_submission,
    read_env,
    stack_cli,
)


@dataclass
class LiveStack:
    root: Path
    env: dict[str, str]
    collector: Collector

    def log_files(self) -> list[Path]:
        return sorted((self.root / "logs").glob("*.log"))

    def local_secrets(self) -> list[str]:
        """Every credential the stack generated (stack.json): client secrets and keys, not
        the client ids kept beside them."""
        state = json.loads((self.root / "stack.json").read_text())
        generated = state.get("secrets", {}).items()
        return [str(v) for k, v in generated if not k.endswith("_id")]


@dataclass
class EndToEnd:
    stack: LiveStack
    run: Run
    auth_secrets: list[str]


@pytest.fixture(scope="package")
def live_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    root = tmp_path_factory.mktemp("obs-stack")
    with running_collector() as collector:
        otel = {
            "OTEL_EXPORTER_OTLP_ENDPOINT": collector.url,
            # Export within a fraction of a second rather than the default 5 s.
            "OTEL_BSP_SCHEDULE_DELAY": "200",
        }
        try:
            stack_cli(root, otel, "up")
            yield LiveStack(root, read_env(root), collector)
        finally:
            stack_cli(root, {}, "down")


@pytest.fixture(scope="package")
def end_to_end(live_stack: LiveStack) -> EndToEnd:
    run = asyncio.run(one_submission(live_stack.env))
    auth_secrets = asyncio.run(auth_day(live_stack.env))
    state = json.loads((live_stack.root / "stack.json").read_text())
    gateway_secret = state["secrets"]["hmrc_gateway_client_secret"]
    run.secrets.append(asyncio.run(hmrc_access_token(live_stack.env, gateway_secret, run)))
    return EndToEnd(live_stack, run, auth_secrets)


@dataclass
class CanaryLoop:
    metrics_url: str
    log_file: Path


def canary_env(stack: LiveStack, **extra: str) -> dict[str, str]:
    """The canary's environment on the local stack: spans to the test's collector."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CANARY_")}
    env.update(
        OTEL_EXPORTER_OTLP_ENDPOINT=stack.collector.url,
        OTEL_BSP_SCHEDULE_DELAY="200",
        CANARY_ACCEPT_TIMEOUT="90",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def run_canary_once(stack: LiveStack, **extra: str) -> subprocess.CompletedProcess[str]:
    """`python -m services.canary` as the CronJob runs it (one run, exit status)."""
    args = [sys.executable, "-m", "services.canary", "--stack-env", str(stack.root / "stack.env")]
    result = subprocess.run(
        args, env=canary_env(stack, **extra), capture_output=True, text=True, timeout=180
    )
    # Its log lines belong with the stack's, for the log scan.
    with (stack.root / "logs" / "canary-once.log").open("a") as log:
        log.write(result.stdout)
    return result


@pytest.fixture(scope="package")
def canary_loop(end_to_end: EndToEnd) -> Iterator[CanaryLoop]:
    """The canary as the local stack runs it: a run every minute, /metrics served."""
    stack = end_to_end.stack
    port = free_port()
    log_file = stack.root / "logs" / "canary-loop.log"
    with log_file.open("ab") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "services.canary",
                "--stack-env",
                str(stack.root / "stack.env"),
                "--every",
                "60",
                "--metrics-port",
                str(port),
            ],
            env=canary_env(stack),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        yield CanaryLoop(f"http://127.0.0.1:{port}/metrics", log_file)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
