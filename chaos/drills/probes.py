"""chaostoolkit probes (python provider): steady state, time to recover, integrity."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import timedelta

import httpx

from chaos.drills.context import current
from chaos.drills.steady import snapshot
from loadtests.provision import bearer
from services.integrity.run import from_stack, run
from services.submission.states import FINAL

POLL = 0.5


def steady(within: float = 15.0) -> bool:
    """True as soon as the platform is steady, waiting at most `within` seconds."""
    ctx = current()
    deadline = time.monotonic() + within
    while True:
        snap = snapshot(ctx)
        ctx.notes["last_steady_check"] = snap.reason
        if snap.ok or time.monotonic() > deadline:
            return snap.ok
        time.sleep(POLL)


def recovery_seconds(timeout: float = 180.0, hold: float = 3.0) -> float:
    """Seconds from the end of the fault until steady state (held for `hold` seconds)."""
    ctx = current()
    if ctx.fault_ended is None:
        raise RuntimeError("the fault never ended")
    deadline = ctx.fault_ended + timeout
    since: float | None = None
    # What stood between the platform and steady state, as it changed (for the report).
    timeline: list[tuple[float, str]] = ctx.notes.setdefault("recovery_timeline", [])
    while time.monotonic() < deadline:
        now = time.monotonic()
        snap = snapshot(ctx)
        ctx.notes["last_steady_check"] = snap.reason
        if not timeline or _kind(timeline[-1][1]) != _kind(snap.reason):
            timeline.append((round(now - ctx.fault_ended, 1), snap.reason))
        if not snap.ok:
            since = None
        elif since is None:
            since = now
        elif now - since >= hold:
            seconds = round(since - ctx.fault_ended, 1)
            ctx.notes["recovery_seconds"] = seconds
            return seconds
        time.sleep(POLL)
    raise TimeoutError(
        f"not steady {timeout:g}s after the fault ended: {ctx.notes['last_steady_check']}"
    )


def _kind(reason: str) -> str:
    """A reason without its figures, so a growing queue age is one entry, not many."""
    return re.sub(r"\d+", "#", reason)


def integrity() -> bool:
    """services.integrity over the stack's databases and the simulator's counters."""
    ctx = current()
    targets = from_stack(ctx.stack.root, timedelta(seconds=ctx.stuck_after))
    report = asyncio.run(run(targets))
    ctx.notes["integrity"] = report.as_json()
    return report.ok


def returns_accounted() -> bool:
    """Every return the API answered 202 exists and is final, or pending for less than the
    loss threshold; POSTs never answered are still being retried, not forgotten."""
    ctx = current()
    now = time.monotonic()
    lost: list[str] = []
    pending = 0
    with httpx.Client(timeout=5) as http:
        items = list(ctx.load.posted.values())  # the load keeps adding while we look
        for item in items:
            if item.final is not None:
                continue
            r = http.get(
                f"{ctx.env['SUBMISSION_URL']}/v1/vat/{item.vrn}/returns/{item.submission_id}",
                headers=bearer(item.tenant.token),
            )
            if r.status_code != 200:
                lost.append(f"{item.submission_id}: {r.status_code}")
                continue
            state = r.json()["status"]
            if state in FINAL:
                item.final = state
            elif now - item.first_at > ctx.stuck_after:
                lost.append(f"{item.submission_id}: {state} for {now - item.first_at:.0f}s")
            else:
                pending += 1
    ctx.notes["returns"] = {
        "accepted_by_api": len(items),
        "final": sum(1 for p in items if p.final),
        "pending": pending,
        "retrying": ctx.load.unanswered(),
        "lost": lost[:10],
    }
    return not lost
