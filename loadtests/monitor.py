"""What happens while the load runs and drains: the queue's depth sampled every second from
the submission API's `/v1/status`, and the run's returns counted by state in the submission
database, shown as a progress bar until the queue is empty."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import sqlalchemy as sa
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from services.common.database import Database, with_database
from services.common.migrations import database_name

FINAL = ("accepted", "rejected")


def submission_database(env: dict[str, str]) -> Database:
    return Database(with_database(env["DATABASE_URL"], database_name("submission")), pool_size=2)


async def states(db: Database, tenants: list[str]) -> dict[str, int]:
    async with db.sessions() as session:
        rows = await session.execute(
            sa.text(
                "SELECT state, count(*) FROM submissions WHERE tenant_id = ANY(:t) GROUP BY state"
            ),
            {"t": tenants},
        )
        return {str(state): int(n) for state, n in rows.tuples()}


@dataclass
class QueueSampler:
    """Samples `/v1/status` once a second until stopped: (unix time, returns waiting)."""

    http: httpx.AsyncClient
    submission_url: str
    token: Any  # an async callable returning a bearer token
    samples: list[tuple[float, int]] = field(default_factory=list)
    _task: asyncio.Task[None] | None = None

    async def _loop(self) -> None:
        while True:
            started = time.monotonic()
            try:
                r = await self.http.get(
                    f"{self.submission_url}/v1/status",
                    headers={"Authorization": f"Bearer {await self.token()}"},
                )
                if r.status_code == 200:
                    self.samples.append((time.time(), int(r.json()["queue"]["waiting"])))
            except httpx.HTTPError:
                pass  # a missed sample is a gap in the plot, not a failed run
            await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - started)))

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


async def drain(db: Database, tenants: list[str], timeout: float) -> tuple[dict[str, int], float]:
    """Wait until every return of the run is accepted or rejected (or `timeout` passes);
    the final counts by state and the seconds waited."""
    started = time.monotonic()
    counts = await states(db, tenants)
    with Progress(
        TextColumn("draining"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
    ) as progress:
        task = progress.add_task("drain", total=sum(counts.values()), detail="")
        while True:
            counts = await states(db, tenants)
            done = sum(counts.get(s, 0) for s in FINAL)
            waiting = {s: n for s, n in counts.items() if s not in FINAL}
            progress.update(
                task,
                total=sum(counts.values()),
                completed=done,
                detail=" ".join(f"{s}={n}" for s, n in sorted(waiting.items())),
            )
            if not waiting or time.monotonic() - started > timeout:
                return counts, time.monotonic() - started
            await asyncio.sleep(1.0)
