"""The steady-state snapshot: services ready, the load's POSTs accepted, the queue moving."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from chaos.drills.context import DrillContext
from loadtests.provision import bearer
from services.stack.launcher import APPS


@dataclass(frozen=True)
class Snapshot:
    ok: bool
    reason: str
    queue_age: float | None = None


def window(ctx: DrillContext) -> float:
    """Long enough to hold a few of the load's POSTs."""
    return max(3.0, 2.5 / ctx.load.rate)


def snapshot(ctx: DrillContext) -> Snapshot:
    not_ready = [app.name for app in APPS if not ctx.stack.ready(app.name)]
    if not_ready:
        return Snapshot(False, "not ready: " + ", ".join(not_ready))
    recent = ctx.load.recent(window(ctx))
    if not recent:
        return Snapshot(False, "no load answered recently")
    failed = [o.detail for o in recent if not o.ok]
    if failed:
        return Snapshot(False, "load POSTs failing: " + ", ".join(sorted(set(failed))))
    try:
        r = httpx.get(
            f"{ctx.env['SUBMISSION_URL']}/v1/status", headers=bearer(ctx.load.token), timeout=2
        )
        r.raise_for_status()
        age = float(r.json()["queue"]["oldestWaitingSeconds"])
    except (httpx.HTTPError, KeyError, ValueError) as exc:
        return Snapshot(False, f"submission status unavailable: {exc}")
    if age > ctx.max_queue_age:
        return Snapshot(False, f"oldest waiting return is {age:.0f}s old", age)
    return Snapshot(True, "steady", age)
