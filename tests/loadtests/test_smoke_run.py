"""`make load` end to end: the runner's smoke profile starts a stack of its own in a temporary
MTD_LOCAL_DIR, runs k6 against it, drains the queue, reconciles, runs the hmrclib
comparison, writes its results and stops the stack it started."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.stack.launcher import APPS, Stack

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def smoke(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[subprocess.CompletedProcess[str], Path, Path]]:
    stack_root = tmp_path_factory.mktemp("stack")
    results = tmp_path_factory.mktemp("results")
    # The stack's own embedded servers, never ones the test run was given.
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "NATS_URL")}
    env["MTD_LOCAL_DIR"] = str(stack_root)
    try:
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "loadtests.run",
                "--profile",
                "smoke",
                "--results",
                str(results),
                "--stop-stack",
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=280,
            check=False,
        )
        yield run, stack_root, results
    finally:
        subprocess.run(
            [sys.executable, "-m", "services.stack", "down"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            timeout=120,
            check=False,
        )


def only_run(results: Path) -> Path:
    runs = list(results.iterdir())
    assert len(runs) == 1, runs
    return runs[0]


def test_smoke_profile_reconciles(
    smoke: tuple[subprocess.CompletedProcess[str], Path, Path],
) -> None:
    run, _, results = smoke
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "reconciliation: passed" in run.stdout
    result = json.loads((only_run(results) / "reconciliation.json").read_text())
    assert result["ok"] is True, result["failures"]
    assert result["api_accepted"] > 0
    # Every 202 has a receipt, and HMRC holds exactly those returns, once each.
    assert result["accepted_with_receipt"] == result["api_accepted"] == result["stored_at_hmrc"]
    assert result["stored_more_than_once"] == 0
    assert result["not_final"] == 0
    assert result["throttled"] == 0
    assert 0 < result["peak_per_second"] <= result["limit"] == 3
    assert result["order_inversions"] == 0


def test_smoke_profile_writes_its_results(
    smoke: tuple[subprocess.CompletedProcess[str], Path, Path],
) -> None:
    run, _, results = smoke
    out = only_run(results)
    for name in (
        "k6-summary.json",
        "k6-samples.csv.gz",
        "report.md",
        "reconciliation.json",
        "comparison.json",
        "arrival-rate.png",
        "hmrc-drain-rate.png",
        "queue-depth.png",
        "latency.png",
    ):
        assert (out / name).stat().st_size > 0, name
    for png in out.glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = json.loads((out / "k6-summary.json").read_text())
    # VRNs are in no metric name: the submit requests share one series per tag set.
    assert not [m for m in summary["metrics"] if any(ch.isdigit() for ch in m.split("{")[0])]
    assert "http_req_duration{endpoint:submit}" in summary["metrics"]
    report = (out / "report.md").read_text()
    assert "**PASSED**" in report
    assert "| 429s received from HMRC |" in report
    # Client secrets and tokens stay out of everything written.
    tenant_secrets = [line for line in run.stdout.splitlines() if "secret" in line.lower()]
    assert tenant_secrets == []
    for path in out.iterdir():
        if path.suffix in (".json", ".md", ".log"):
            text = path.read_text()
            assert "client_secret" not in text.lower(), path.name
            assert "eyJ" not in text, f"a JWT in {path.name}"  # the tenants' access tokens


def test_the_comparison_ran_the_same_returns_straight_at_hmrc(
    smoke: tuple[subprocess.CompletedProcess[str], Path, Path],
) -> None:
    _, _, results = smoke
    table = json.loads((only_run(results) / "comparison.json").read_text())
    platform, direct = table["platform"], table["hmrclib"]
    assert direct is not None
    assert direct["sent"] == platform["sent"] > 0
    assert platform["throttled"] == platform["lost"] == platform["duplicated"] == 0
    assert platform["not_filed"] == platform["errors"] == 0
    # Bursts over the limit sent straight to HMRC meet its 429s.
    assert direct["throttled"] > 0
    assert direct["peak_per_second"] > 3


def test_the_runner_stops_the_stack_it_started(
    smoke: tuple[subprocess.CompletedProcess[str], Path, Path],
) -> None:
    _, stack_root, _ = smoke
    stack = Stack(stack_root)
    assert (stack_root / "stack.env").exists()
    assert [app.name for app in APPS if stack.app_pid(app.name) is not None] == []
