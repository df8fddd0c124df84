"""python -m chaos.litmus.run [--only NAME ...] [--timeout S] [--keep-going] [--dry-run]

Applies the RBAC, then each ChaosEngine in order (chaos/litmus/manifests.py DRILLS),
waits for its ChaosResult verdict with a timeout, and on a failure prints the failed step
and every probe that did not pass. Exit 0 when every verdict is Pass. Needs `kubectl`
pointed at the cluster, the Litmus operator and the ChaosHub experiments installed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from chaos.litmus.manifests import DRILLS, HERE, NAMESPACE, Drill


@dataclass
class Verdict:
    engine: str
    verdict: str  # Pass | Fail | Stopped | Awaited | Timeout
    fail_step: str = ""
    failed_probes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.verdict == "Pass"

    def describe(self) -> str:
        lines = [f"{self.engine}: {self.verdict}"]
        if self.fail_step:
            lines.append(f"  failed step: {self.fail_step}")
        lines += [f"  probe failed: {p}" for p in self.failed_probes]
        return "\n".join(lines)


def result_name(drill: Drill) -> str:
    """Litmus names a ChaosResult `<engine>-<experiment>`."""
    return f"{drill.name}-{drill.experiment}"


def read_verdict(engine: str, result: dict[str, Any]) -> Verdict:
    """The verdict of a ChaosResult document (Litmus 3: status.experimentStatus and
    status.probeStatuses; Litmus 2 spelled the list probeStatus)."""
    status = result.get("status") or {}
    experiment = status.get("experimentStatus") or {}
    verdict = str(experiment.get("verdict") or "Awaited")
    if experiment.get("phase") not in ("Completed", "Stopped", "Error") and verdict == "Awaited":
        return Verdict(engine, "Awaited")
    failed = []
    for probe in status.get("probeStatuses") or status.get("probeStatus") or []:
        state = probe.get("status") or {}
        probe_verdict = state.get("verdict") if isinstance(state, dict) else None
        if probe_verdict is None and isinstance(state, dict):  # Litmus 2: {mode: "Passed 👍"}
            probe_verdict = (
                "Passed" if all("Passed" in str(v) for v in state.values()) else "Failed"
            )
        if probe_verdict != "Passed":
            description = state.get("description", "") if isinstance(state, dict) else ""
            failed.append(
                f"{probe.get('name')} ({probe.get('type')}, {probe.get('mode')}): "
                f"{probe_verdict} {description}".strip()
            )
    return Verdict(engine, verdict, str(experiment.get("failStep") or ""), failed)


def kubectl(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - fixed program, our arguments
        ["kubectl", *args],  # noqa: S607 - kubectl from PATH, as an operator runs it
        capture_output=True,
        text=True,
        check=check,
    )


def wait_for_verdict(drill: Drill, namespace: str, timeout: float) -> Verdict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = kubectl(
            "get", "chaosresult", result_name(drill), "-n", namespace, "-o", "json", check=False
        )
        if got.returncode == 0:
            verdict = read_verdict(drill.name, json.loads(got.stdout))
            if verdict.verdict != "Awaited":
                return verdict
        time.sleep(10)
    return Verdict(drill.name, "Timeout", f"no verdict within {timeout:g}s")


def plan(drills: list[Drill], namespace: str) -> list[list[str]]:
    """The kubectl commands, in order (what --dry-run prints)."""
    steps = [["apply", "-n", namespace, "-f", str(HERE / "rbac.yaml")]]
    for drill in drills:
        steps.append(["delete", "chaosengine", drill.name, "-n", namespace, "--ignore-not-found"])
        steps.append(
            ["delete", "chaosresult", result_name(drill), "-n", namespace, "--ignore-not-found"]
        )
        steps.append(["apply", "-n", namespace, "-f", str(HERE / "engines" / f"{drill.name}.yaml")])
    return steps


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chaos.litmus.run", description=__doc__)
    parser.add_argument("--only", action="append", choices=[d.name for d in DRILLS])
    parser.add_argument("--namespace", default=NAMESPACE)
    parser.add_argument("--timeout", type=float, default=900, help="seconds per experiment")
    parser.add_argument("--keep-going", action="store_true", help="run the rest after a failure")
    parser.add_argument("--dry-run", action="store_true", help="print the kubectl commands")
    args = parser.parse_args(argv)
    drills = [d for d in DRILLS if not args.only or d.name in args.only]
    if args.dry_run:
        for step in plan(drills, args.namespace):
            sys.stdout.write("kubectl " + " ".join(step) + "\n")
        return 0
    kubectl(*plan(drills, args.namespace)[0])
    failed = 0
    for drill in drills:
        for step in plan([drill], args.namespace)[1:]:
            kubectl(*step)
        verdict = wait_for_verdict(drill, args.namespace, args.timeout)
        sys.stdout.write(verdict.describe() + "\n")
        if not verdict.passed:
            failed += 1
            if not args.keep_going:
                break
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
