"""A short subset of the chaos drills on a real local stack (its own temporary directory):
SIGKILL of the submission service, a NATS restart and a burst of HMRC 5xx (some after the
return was stored), under steady submission load. Each drill must find the platform steady
before and after, recover, and leave the integrity invariants intact; at the end every
return the API accepted must be final, stored once at HMRC and once in the audit log.

Recovery times are reported by `make chaos`, not asserted here."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from chaos.drills.runner import Session, drill_stack, read_env, run_session

DRILLS = ["kill-submission", "nats-restart", "hmrc-5xx"]

pytestmark = pytest.mark.timeout(480)


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Session, dict[str, Any]]]:
    root: Path = tmp_path_factory.mktemp("chaos-stack")
    with drill_stack(root) as stack:
        result = run_session(stack, DRILLS, rate=1.0, fault_seconds=15, drain_timeout=120)
        env = read_env(root)
        counters = httpx.get(f"{env['HMRC_SANDBOX_URL']}/control/counters", timeout=10).json()
        yield result, counters


def test_every_drill_passes_with_steady_state_before_and_after(
    session: tuple[Session, dict[str, Any]],
) -> None:
    result, _ = session
    assert [r.name for r in result.results] == DRILLS
    for drill in result.results:
        assert drill.passed, (drill.name, drill.failures, drill.notes.get("last_steady_check"))
        assert drill.recovery_seconds is not None and drill.recovery_seconds >= 0
        assert drill.notes["integrity"]["ok"], drill.notes["integrity"]


def test_nothing_lost_every_accepted_return_is_final(
    session: tuple[Session, dict[str, Any]],
) -> None:
    result, _ = session
    returns = result.final["returns"]
    assert result.final["ok"], result.final
    assert returns["accepted_by_api"] > 0
    assert returns["final"] == returns["accepted_by_api"]
    assert returns["lost"] == []
    assert returns["retrying"] == 0


def test_nothing_sent_twice_and_the_audit_chain_verifies(
    session: tuple[Session, dict[str, Any]],
) -> None:
    result, counters = session
    checks = {c["name"]: c for c in result.final["integrity"]["checks"]}
    assert set(checks) == {
        "no_lost_return",
        "one_acceptance_per_period",
        "sent_once_per_audit",
        "audit_chain_valid",
        "simulator_no_duplicate",
    }
    assert all(c["ok"] for c in checks.values()), checks
    assert counters["duplicateSubmissionsTotal"] == 0
    # Every return the platform accepted is stored at HMRC exactly once.
    accepted = checks["no_lost_return"]["details"]["by_state"].get("accepted", 0)
    assert accepted == result.final["returns"]["accepted_by_api"]
    assert counters["returnsStoredTotal"] == accepted


def test_the_faults_really_happened(session: tuple[Session, dict[str, Any]]) -> None:
    result, counters = session
    by_name = {r.name: r for r in result.results}
    # The 5xx burst answered HMRC calls with injected errors (counted per endpoint and kind:
    # "error 500", "accepted then error").
    injected = counters["faults"]
    assert sum(n for kinds in injected.values() for n in kinds.values()) > 0, counters
    # The load's POSTs failed while submission was down, and were retried with their keys.
    assert result.load["retried"] > 0, result.load
    assert by_name["kill-submission"].notes["returns"]["accepted_by_api"] > 0, by_name
