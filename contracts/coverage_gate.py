"""Fail the build when test coverage drops: at least 80% overall, and at least 90% for the
code where a gap costs most — fraud prevention headers, return validation and the
submission state machine.

Run after the test suite has written coverage data (`pytest --cov`):
`python -m contracts.coverage_gate [--data-file .coverage]`."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import coverage

OVERALL_MINIMUM = 80.0
CRITICAL_MINIMUM = 90.0
CRITICAL = (
    "services/common/fraud_prevention.py",
    "services/common/hmrc_validation.py",
    "services/submission/states.py",
)


@dataclass(frozen=True)
class Verdict:
    overall: float
    files: dict[str, float | None]  # None: the file was never measured

    def failures(self) -> list[str]:
        found = []
        if self.overall < OVERALL_MINIMUM:
            found.append(f"overall coverage {self.overall:.1f}% is below {OVERALL_MINIMUM:.0f}%")
        for name, percent in self.files.items():
            if percent is None:
                found.append(f"{name} was not measured at all")
            elif percent < CRITICAL_MINIMUM:
                found.append(f"{name} coverage {percent:.1f}% is below {CRITICAL_MINIMUM:.0f}%")
        return found


def judge(report: dict[str, object], root: Path) -> Verdict:
    """Read coverage's JSON report (`coverage json`)."""
    totals = report["totals"]
    assert isinstance(totals, dict)
    files = report["files"]
    assert isinstance(files, dict)
    by_path = {
        Path(name).resolve().relative_to(root).as_posix()
        if Path(name).is_absolute()
        else Path(name).as_posix(): data
        for name, data in files.items()
    }
    measured = {
        name: float(by_path[name]["summary"]["percent_covered"]) if name in by_path else None
        for name in CRITICAL
    }
    return Verdict(float(totals["percent_covered"]), measured)


def measure(data_file: str, root: Path) -> Verdict:
    cov = coverage.Coverage(data_file=data_file)
    cov.load()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "coverage.json"
        cov.json_report(outfile=str(out))
        return judge(json.loads(out.read_text()), root)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m contracts.coverage_gate", description=__doc__)
    parser.add_argument("--data-file", default=".coverage")
    args = parser.parse_args(argv)
    verdict = measure(args.data_file, Path.cwd().resolve())
    lines = [f"coverage: overall {verdict.overall:.1f}% (minimum {OVERALL_MINIMUM:.0f}%)"]
    lines += [
        f"coverage: {name} {'not measured' if p is None else f'{p:.1f}%'} "
        f"(minimum {CRITICAL_MINIMUM:.0f}%)"
        for name, p in verdict.files.items()
    ]
    sys.stdout.write("\n".join(lines) + "\n")
    failures = verdict.failures()
    for failure in failures:
        sys.stderr.write(f"coverage gate: {failure}\n")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
