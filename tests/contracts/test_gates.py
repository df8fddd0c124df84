"""The coverage gate and the mutation score: what they accept and what fails the build."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import coverage
import pytest

from contracts import coverage_gate, mutation_score
from contracts.coverage_gate import CRITICAL, judge

ROOT = Path(__file__).resolve().parents[2]


def report(overall: float, files: dict[str, float]) -> dict[str, Any]:
    return {
        "totals": {"percent_covered": overall},
        "files": {name: {"summary": {"percent_covered": p}} for name, p in files.items()},
    }


def test_passes_at_the_thresholds() -> None:
    verdict = judge(report(80.0, dict.fromkeys(CRITICAL, 90.0)), ROOT)
    assert verdict.failures() == []


def test_fails_below_80_overall() -> None:
    verdict = judge(report(79.9, dict.fromkeys(CRITICAL, 100.0)), ROOT)
    assert verdict.failures() == ["overall coverage 79.9% is below 80%"]


def test_fails_when_a_critical_module_is_below_90_or_unmeasured() -> None:
    files = dict.fromkeys(CRITICAL, 95.0)
    files["services/submission/states.py"] = 89.9
    del files["services/common/fraud_prevention.py"]
    absolute = {str(ROOT / k): v for k, v in files.items()}  # coverage may report full paths
    verdict = judge(report(95.0, absolute), ROOT)
    assert verdict.failures() == [
        "services/common/fraud_prevention.py was not measured at all",
        "services/submission/states.py coverage 89.9% is below 90%",
    ]


def test_reads_real_coverage_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / ".coverage"
    measured = coverage.CoverageData(basename=str(data))
    # Only the state machine's first lines ran: the gate names it, and the two others that
    # were never measured.
    measured.add_lines({str(ROOT / "services/submission/states.py"): [1, 9, 11]})
    measured.write()
    assert coverage_gate.main(["--data-file", str(data)]) == 1
    out, err = capsys.readouterr()
    assert "coverage: services/submission/states.py " in out
    assert "services/submission/states.py coverage " in err
    assert "services/common/hmrc_validation.py was not measured at all" in err
    assert "overall coverage " in err


def test_mutation_score(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stats = tmp_path / "stats.json"
    counts = {"killed": 80, "survived": 19, "timeout": 1, "total": 100, "skipped": 0}
    stats.write_text(json.dumps(counts))
    assert mutation_score.main(["--stats", str(stats)]) == 0
    assert "mutation score: 81.0% (81 of 100 mutants killed" in capsys.readouterr().out
    stats.write_text(json.dumps({**counts, "killed": 78, "survived": 21}))
    assert mutation_score.main(["--stats", str(stats)]) == 1
