"""`make demo`'s journey end to end: the command its recipe runs, against a real local stack,
prints every step with its result, and HMRC (the simulator) holds exactly one return."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import httpx

from tests.integrator.conftest import LocalStack

MAKEFILE = Path(__file__).resolve().parents[2] / "Makefile"
DEMO = [sys.executable, "-m", "services.cli", "demo"]


def test_make_demo_runs_this_command() -> None:
    recipe = MAKEFILE.read_text().split("\ndemo:", 1)[1].split("\n\n", 1)[0]
    assert "-m services.stack up" in recipe  # starts the stack when it is not up
    assert "-m services.cli demo" in recipe


def test_the_demo_walks_the_whole_journey(local_stack: LocalStack) -> None:
    run = subprocess.run(
        DEMO,
        env=local_stack.process_env(COLUMNS="200"),
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    out = run.stdout
    assert run.returncode == 0, out + run.stderr
    numbers = [int(n) for n in re.findall(r"^\s*(\d+)\. ", out, re.MULTILINE)]
    assert numbers == list(range(1, 12)), out
    # Polled every half second: the intermediate states may pass between two polls.
    assert re.search(r"✓ (queued → )?(submitting → )?accepted\n", out), out
    assert "the same return (True)" in out
    assert "return.accepted for return" in out and "signature verifies" in out
    done = re.search(r"Journey complete.*VRN (\d{9}), return ([0-9a-f-]{36}) accepted", out)
    assert done, out
    vrn, submission_id = done.groups()
    assert f"return.accepted for return {submission_id}" in out
    exchanges = re.search(r"(\d+) HMRC exchanges for VRN", out)
    assert exchanges and int(exchanges.group(1)) >= 2, out  # obligations read + the return
    # The API client's secret is never printed whole.
    secret = re.search(r"client (\S+), secret (\S+)", out)
    assert secret and secret.group(2).endswith("***"), out

    # HMRC's side, independently: one return stored for the VRN, no duplicate attempt.
    counters = httpx.get(f"{local_stack.env['HMRC_SANDBOX_URL']}/control/counters").json()
    assert list(counters["returnsStored"][vrn].values()) == [1]
    assert vrn not in counters["duplicateSubmissions"]
