"""Run drills one after another on one stack under one steady load; report and record them."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chaoslib.experiment import run_experiment  # type: ignore[import-untyped]

from chaos.drills import probes
from chaos.drills.context import DrillContext, set_current
from chaos.drills.load import Load
from services.stack.launcher import APPS, Stack

EXPERIMENTS = Path(__file__).parent / "experiments"
RESULTS = Path(__file__).resolve().parents[1] / "results"
# Instances, then the broker and the database, then HMRC; losing NATS's data last.
ORDER = (
    "kill-submission",
    "kill-hmrc-gateway",
    "kill-audit",
    "kill-auth",
    "kill-obligations",
    "nats-restart",
    "postgres-restart",
    "hmrc-latency",
    "hmrc-5xx",
    "hmrc-outage",
    "nats-data-loss",
)
# Back to steady state within this long after the fault ends (the drills' target).
TARGET_SECONDS = 30.0
# The drill stack renews claims often and takes a lapsed one back quickly, so a killed
# worker's return is reconciled within the drill rather than after the 5-minute default.
DRILL_SETTINGS = {"SUBMISSION_LEASE_SECONDS": "20", "SUBMISSION_RENEW_SECONDS": "5"}


def experiment_path(name: str) -> Path:
    return EXPERIMENTS / f"{name}.json"


def available() -> list[str]:
    return [name for name in ORDER if experiment_path(name).exists()]


@dataclass
class DrillResult:
    name: str
    passed: bool
    recovery_seconds: float | None
    within_target: bool | None
    started_at: str
    finished_at: str
    failures: list[str] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)


def _failures(journal: dict[str, Any]) -> list[str]:
    """The failed step and probe, in words: which hypothesis probe, which method activity."""
    out: list[str] = []
    for phase in ("before", "after"):
        state = (journal.get("steady_states") or {}).get(phase)
        if state and not state.get("steady_state_met"):
            for probe in state.get("probes", []):
                if not probe.get("tolerance_met", False):
                    out.append(f"steady state {phase}: probe {probe['activity']['name']} failed")
    for item in journal.get("run", []):
        if item.get("status") != "succeeded":
            reason = (item.get("exception") or ["?"])[-1].strip()
            reason = reason.removeprefix("chaoslib.exceptions.ActivityFailed: ")
            out.append(f"method: {item['activity']['name']} {item.get('status')}: {reason}")
    if journal.get("status") not in ("completed", None) and not out:
        out.append(f"experiment {journal.get('status')}")
    return out


def _recovery(journal: dict[str, Any]) -> float | None:
    for item in journal.get("run", []):
        if item["activity"]["name"] == "recovery-seconds" and item.get("status") == "succeeded":
            return float(item["output"])
    return None


def run_drill(ctx: DrillContext, name: str, fault_seconds: float | None = None) -> DrillResult:
    experiment = json.loads(experiment_path(name).read_text())
    if fault_seconds is not None and "fault_seconds" in experiment["configuration"]:
        experiment["configuration"]["fault_seconds"] = fault_seconds
    ctx.notes = {}
    ctx.fault_started = ctx.fault_ended = None
    started = datetime.now(UTC)
    journal: dict[str, Any] = run_experiment(experiment, settings={})
    recovery = _recovery(journal)
    failures = _failures(journal)
    passed = journal.get("status") == "completed" and not journal.get("deviated") and not failures
    result = DrillResult(
        name=name,
        passed=passed and recovery is not None,
        recovery_seconds=recovery,
        within_target=None if recovery is None else recovery <= TARGET_SECONDS,
        started_at=started.isoformat(),
        finished_at=datetime.now(UTC).isoformat(),
        failures=failures,
        notes=dict(ctx.notes),
    )
    result.notes["journal_status"] = journal.get("status")
    return result


@contextmanager
def drill_environment() -> Iterator[None]:
    """The drill settings in this process's environment (services started or restarted
    here inherit them), and no external servers: drills stop and wipe their own. Whatever
    was there before is put back afterwards."""
    saved = dict(os.environ)
    for name in ("DATABASE_URL", "NATS_URL"):
        if os.environ.pop(name, None):
            logging.getLogger(__name__).warning("%s ignored: drills need embedded servers", name)
    for key, value in DRILL_SETTINGS.items():
        os.environ.setdefault(key, value)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextmanager
def drill_stack(root: Path) -> Iterator[Stack]:
    """The stack to drill: started here (embedded PostgreSQL and NATS, drill settings) when
    it is not already up; stopped afterwards only if it was started here."""
    with drill_environment():
        stack = Stack(root)
        started_here = not running(stack)
        if started_here:
            stack.up()
        try:
            yield stack
        finally:
            if started_here:
                stack.down()


def running(stack: Stack) -> bool:
    if "ports" not in stack.state or not (stack.root / "stack.env").exists():
        return False
    return all(stack.app_pid(app.name) is not None and stack.ready(app.name) for app in APPS)


def read_env(root: Path) -> dict[str, str]:
    lines = (root / "stack.env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line)


@dataclass
class Session:
    results: list[DrillResult]
    final: dict[str, Any]
    load: dict[str, Any]

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results) and bool(self.final.get("ok"))


def run_session(
    stack: Stack,
    names: list[str],
    *,
    rate: float = 1.0,
    fault_seconds: float | None = None,
    drain_timeout: float = 180.0,
    on_result: Any = None,
) -> Session:
    logging.getLogger("chaostoolkit").setLevel(logging.WARNING)
    env = read_env(stack.root)
    load = Load(env, rate)
    ctx = DrillContext(stack=stack, env=env, load=load)
    set_current(ctx)
    load.open()
    results: list[DrillResult] = []
    try:
        load.ensure_pool(pool_size(rate, fault_seconds))
        load.start()
        if not probes.steady(within=60):
            raise RuntimeError(f"never steady before the drills: {ctx.notes['last_steady_check']}")
        for name in names:
            load.ensure_pool(pool_size(rate, fault_seconds))
            result = run_drill(ctx, name, fault_seconds)
            results.append(result)
            if on_result is not None:
                on_result(result)
        load.pause()
        load.answer_retries(timeout=60)
        final = drain(ctx, drain_timeout)
    finally:
        load.close()
        set_current(None)
    tally = asdict(load.tally)
    return Session(results, final, tally)


def pool_size(rate: float, fault_seconds: float | None) -> int:
    """Open periods enough for one drill at the load's rate (fault, recovery, checks)."""
    return int(rate * ((fault_seconds or 60) + 60)) + 10


def drain(ctx: DrillContext, timeout: float) -> dict[str, Any]:
    """With the load stopped: every return the API accepted must become final, and the
    invariants hold with nothing allowed to stay pending."""
    deadline = time.monotonic() + timeout
    ctx.notes = {}
    while True:
        accounted = probes.returns_accounted()
        returns = ctx.notes["returns"]
        if not accounted or returns["pending"] == 0 or time.monotonic() > deadline:
            break
        time.sleep(2)
    drained = accounted and returns["pending"] == 0 and returns["retrying"] == 0
    ctx.stuck_after = 0.0  # nothing may still be pending now
    # A return filed by a request whose answer never came is the platform's too: wait for it.
    while not (intact := probes.integrity()) and time.monotonic() < deadline:
        time.sleep(2)
    return {
        "ok": drained and intact,
        "returns": returns,
        "integrity": ctx.notes["integrity"],
    }


def write_results(session: Session, meta: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"drills-{stamp}.json"
    document = {
        **meta,
        "target_seconds": TARGET_SECONDS,
        "passed": session.passed,
        "drills": [asdict(r) for r in session.results],
        "final": session.final,
        "load": session.load,
    }
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")
    return path
