"""`run` and `update`: replay every scenario, then compare with (or rewrite) its expected
outputs. The manifest is checked before anything runs."""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path
from typing import Any

import httpx

from golden import manifest
from golden.collect import audit_records, hmrc_requests
from golden.context import Context, StepFailed, simulator
from golden.report import say, unified_diff
from golden.scenario import EXPECTED, Scenario, discover, shared
from golden.setup import deterministic, run_tokens, set_up
from golden.stack import Running, running_stack
from golden.steps import play

OUTPUTS = ("responses.json", "hmrc_requests.json", "audit.json")
SALT_FILE = "golden-runs"


def dump(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def next_salt(root: Path) -> int:
    """0 on a fresh stack; a stack used before gets new VRNs (its platform remembers the old)."""
    path = root / SALT_FILE
    salt = int(path.read_text()) if path.exists() else 0
    path.write_text(str(salt + 1))
    return salt


def outputs(
    stack: Running,
    scenario: Scenario,
    dataset: Path,
    salt: int,
    tokens: dict[str, str],
    update: bool,
) -> dict[str, str]:
    devices = shared(dataset, "devices")
    fields = {k: str(v) for k, v in shared(dataset, "return")["fields"].items()}
    with httpx.Client(timeout=90) as http:
        ctx = Context(stack, http, tokens=dict(tokens))
        deterministic(ctx, scenario, salt)
        set_up(ctx, scenario, secrets.token_hex(4))
        stack.proxy.wait_idle(quiet=0.2)
        stack.proxy.recorder.take()  # the set-up's own traffic is not the scenario's
        play(ctx, scenario, devices, fields)
        requests = hmrc_requests(ctx)
        # When comparing, wait for as many audit records as expected (they arrive async).
        expected_audit = scenario.path / EXPECTED / "audit.json"
        known = expected_audit.exists() and not update
        audit = audit_records(ctx, len(json.loads(expected_audit.read_text())) if known else None)
        norm = ctx.norm
        return {
            "responses.json": dump(norm(ctx.responses)),
            "hmrc_requests.json": dump(norm(requests)),
            "audit.json": dump(sorted((norm(a) for a in audit), key=dump)),
        }


def execute(dataset: Path, update: bool, only: list[str] | None, keep: bool) -> int:
    dataset = dataset.resolve()
    if not update:
        broken = manifest.problems(dataset)
        if broken:
            for line in broken:
                say(line)
            say(f"FAILED: the dataset in {dataset} does not match {manifest.MANIFEST}")
            return 1
    scenarios = discover(dataset, only)
    started = time.monotonic()
    failures: list[str] = []
    with running_stack(keep) as stack:
        salt = next_salt(stack.root)
        with httpx.Client(timeout=90) as http:
            tokens = run_tokens(Context(stack, http))
        for scenario in scenarios:
            t0 = time.monotonic()
            try:
                produced = outputs(stack, scenario, dataset, salt, tokens, update)
            except StepFailed as exc:
                failures.append(scenario.name)
                say(f"ERROR {scenario.name}: {exc}")
                continue
            differing = compare_or_write(scenario, produced, update)
            if differing:
                failures.append(scenario.name)
            mark = "updated" if update else ("DIFF" if differing else "ok")
            say(f"{mark:<7} {scenario.name} ({time.monotonic() - t0:.1f}s)")
        with httpx.Client(timeout=30) as http:
            # Leave the simulator as its settings say (no frozen clock, seed or fault).
            simulator(Context(stack, http), "POST", "/control/reset")
    if update:
        manifest.write(dataset)
        say(f"wrote {manifest.MANIFEST}")
    took = time.monotonic() - started
    if failures:
        say(f"FAILED: {len(failures)} of {len(scenarios)} scenarios: {', '.join(failures)}")
        return 1
    say(f"{len(scenarios)} scenarios {'updated' if update else 'passed'} in {took:.0f}s")
    return 0


def compare_or_write(scenario: Scenario, produced: dict[str, str], update: bool) -> bool:
    """Write the outputs (update) or print a diff per differing file; True if any differ."""
    folder = scenario.path / EXPECTED
    differing = False
    for name in OUTPUTS:
        path = folder / name
        if update:
            folder.mkdir(exist_ok=True)
            path.write_text(produced[name])
            continue
        expected = path.read_text() if path.exists() else ""
        if expected != produced[name]:
            differing = True
            say(unified_diff(expected, produced[name], f"{scenario.name}/{name}"))
    return differing
