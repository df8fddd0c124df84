"""The drills' chaostoolkit experiments are valid for chaostoolkit itself (its own checks:
every python provider imports, its function exists and takes the arguments given), each
has the same hypothesis and a measured recovery, and the runner reads a real journal's
failures back as the failed step and probe."""

from __future__ import annotations

import json
import logging

from chaoslib.experiment import ensure_experiment_is_valid, run_experiment

from chaos.drills.runner import ORDER, _failures, _recovery, available, experiment_path

HYPOTHESIS = ["steady-state", "every-accepted-return-accounted-for", "integrity-invariants"]


def test_every_experiment_is_valid_and_in_the_run_order() -> None:
    names = sorted(p.stem for p in experiment_path("x").parent.glob("*.json"))
    assert sorted(ORDER) == names == sorted(available())
    for service in ("auth", "hmrc-gateway", "obligations", "submission", "audit"):
        assert f"kill-{service}" in names
    for name in names:
        experiment = json.loads(experiment_path(name).read_text())
        ensure_experiment_is_valid(experiment)
        probes = experiment["steady-state-hypothesis"]["probes"]
        assert [p["name"] for p in probes] == HYPOTHESIS, name
        assert all(p["tolerance"] is True for p in probes)
        method = experiment["method"]
        assert method[0]["type"] == "action"
        assert method[-1]["name"] == "recovery-seconds"
        assert experiment["rollbacks"][0]["provider"]["func"] == "restore"


def test_the_runner_names_the_failed_probe_and_step_from_a_real_journal() -> None:
    logging.getLogger("chaostoolkit").setLevel(logging.CRITICAL)
    experiment = {
        "version": "1.0.0",
        "title": "a drill whose steady state does not hold after the fault",
        "description": "a probe that fails, then a method step that raises",
        "steady-state-hypothesis": {
            "title": "the file is there",
            "probes": [
                {
                    "type": "probe",
                    "name": "file-present",
                    "tolerance": True,
                    "provider": {
                        "type": "python",
                        "module": "os.path",
                        "func": "exists",
                        "arguments": {"path": "/"},
                    },
                }
            ],
        },
        "method": [
            {
                "type": "action",
                "name": "break-it",
                "provider": {
                    "type": "python",
                    "module": "os",
                    "func": "stat",
                    "arguments": {"path": "/no/such/file"},
                },
            },
            {
                "type": "probe",
                "name": "recovery-seconds",
                "provider": {
                    "type": "python",
                    "module": "json",
                    "func": "loads",
                    "arguments": {"s": "4.5"},
                },
            },
        ],
    }
    journal = run_experiment(experiment, settings={})
    assert _recovery(journal) == 4.5
    failures = _failures(journal)
    assert len(failures) == 1
    assert failures[0].startswith("method: break-it failed: FileNotFoundError")

    # The same hypothesis, now false after the method: the probe is named.
    probe = experiment["steady-state-hypothesis"]["probes"][0]  # type: ignore[index]
    probe["provider"]["arguments"]["path"] = "/no/such/file"
    journal = run_experiment(experiment, settings={})
    assert _failures(journal) == ["steady state before: probe file-present failed"]
    assert _recovery(journal) is None
