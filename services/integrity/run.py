"""Run every invariant and collect one report; a check that cannot run counts as failed."""

from __future__ import annotations

import os
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from services.common import migrations
from services.common.database import Database, with_database
from services.integrity import checks
from services.integrity.checks import Check


@dataclass(frozen=True)
class Targets:
    submission_db: str
    audit_db: str
    simulator_url: str | None = None
    stuck_after: timedelta = timedelta(minutes=15)


def from_stack(root: Path, stuck_after: timedelta) -> Targets:
    """The local stack's databases and simulator, from its `stack.env` contract."""
    lines = (root / "stack.env").read_text().splitlines()
    env = dict(line.split("=", 1) for line in lines if "=" in line)
    server = env["DATABASE_URL"]
    return Targets(
        submission_db=with_database(server, migrations.database_name("submission")),
        audit_db=with_database(server, migrations.database_name("audit")),
        simulator_url=env.get("HMRC_SANDBOX_URL"),
        stuck_after=stuck_after,
    )


def from_environment(stuck_after: timedelta) -> Targets | None:
    """INTEGRITY_SUBMISSION_DATABASE_URL, INTEGRITY_AUDIT_DATABASE_URL and optionally
    INTEGRITY_HMRC_SANDBOX_URL (how the cluster's end-of-test probe passes them)."""
    submission = os.environ.get("INTEGRITY_SUBMISSION_DATABASE_URL")
    audit = os.environ.get("INTEGRITY_AUDIT_DATABASE_URL")
    if not submission or not audit:
        return None
    simulator = os.environ.get("INTEGRITY_HMRC_SANDBOX_URL") or None
    return Targets(submission, audit, simulator, stuck_after)


@dataclass(frozen=True)
class Report:
    checks: list[Check]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    def as_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "checks": [c.as_json() for c in self.checks]}

    def text(self) -> str:
        lines = [f"{'PASS' if c.ok else 'FAIL'}  {c.name:<26} {c.summary}" for c in self.checks]
        lines.append("integrity: OK" if self.ok else f"integrity: {len(self.failed())} FAILED")
        return "\n".join(lines)


async def _guarded(name: str, check: Awaitable[Check]) -> Check:
    try:
        return await check
    except Exception as exc:  # unreachable database, missing table: the invariant is unproven
        return Check(name, False, f"could not check: {type(exc).__name__}: {exc}")


async def run(targets: Targets) -> Report:
    submission = Database(targets.submission_db, pool_size=1, max_overflow=0)
    audit = Database(targets.audit_db, pool_size=1, max_overflow=0)
    try:
        results = [
            await _guarded(
                "no_lost_return", checks.returns_not_lost(submission, targets.stuck_after)
            ),
            await _guarded(
                "one_acceptance_per_period", checks.one_live_submission_per_period(submission)
            ),
            await _guarded("sent_once_per_audit", checks.submitted_once_per_audit(audit)),
            await _guarded("audit_chain_valid", checks.audit_chain_valid(audit)),
        ]
        if targets.simulator_url:
            results.append(
                await _guarded(
                    "simulator_no_duplicate",
                    checks.simulator_saw_no_duplicate(targets.simulator_url),
                )
            )
    finally:
        await submission.dispose()
        await audit.dispose()
    return Report(results)
