"""The HMRC rate governor: every replica together stays under HMRC's rate, most urgent
call first. See docs/decisions/0030-rate-governor.md.

A waiting call inserts a row into `governor_queue`. One replica at a time is the
dispatcher (it holds a session-level advisory lock on its own connection; if that
connection dies the lock frees and another replica takes over). The dispatcher grants one
waiting row per slot, in priority order, at `rate x safety factor`, never while the shared
`paused_until` (set by any replica that got a 429) lies ahead, and announces each grant
with NOTIFY. Each replica LISTENs on a dedicated connection and resolves its local waiter;
a slow poll covers a lost notification. Pacing is measured on the database clock from the
last grant recorded in `governor_state`, so a new dispatcher continues the old one's rhythm.

At high rates (a raised limit, or load tests) one grant per round trip would cap the rate
at what one connection can do; so when the dispatcher wakes late by whole intervals it
grants that many rows in one statement, never more than 50 ms worth (`burst`). At HMRC's
3/s that is always one row, so grants stay at least an interval apart.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg
from prometheus_client import Counter, Gauge, Histogram

from services.common.database import async_url
from services.common.logging import get_logger
from services.hmrc_gateway.models import NO_DUE_DATE

log = get_logger(__name__)

GRANT_CHANNEL = "hmrc_governor_grant"
ENQUEUE_CHANNEL = "hmrc_governor_enqueue"
# pg_try_advisory_lock key of the dispatcher role (advisory locks are per database).
DISPATCHER_LOCK = 0x4D54445F474F56  # "MTD_GOV"

GOVERNOR_WAIT = Histogram(
    "hmrc_gateway_governor_wait_seconds",
    "Time a call waited for an HMRC request slot.",
    ["priority_class"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
)
GOVERNOR_GRANTS = Counter("hmrc_gateway_governor_grants", "Slots granted by this replica.")
GOVERNOR_TIMEOUTS = Counter(
    "hmrc_gateway_governor_timeouts", "Calls that gave up waiting for a slot."
)
GOVERNOR_PAUSES = Counter(
    "hmrc_gateway_governor_pauses", "Global pauses set by this replica after a 429."
)
GOVERNOR_DISPATCHER = Gauge(
    "hmrc_gateway_governor_dispatcher", "1 while this replica is the dispatcher."
)


class GovernorTimeout(Exception):
    """No slot was granted within the caller's wait."""


@dataclass(frozen=True)
class Priority:
    """Lower class first; within a class, earlier due date first; then first come."""

    priority_class: int = 5
    due_at: datetime | None = None

    @property
    def sort_due(self) -> datetime:
        return self.due_at or NO_DUE_DATE


# Deadline work (a return due soon) is class 0-1; ordinary reads are class 5.
SUBMISSION = Priority(1)
READ = Priority(5)


def asyncpg_dsn(url: str) -> str:
    return async_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class Governor:
    def __init__(
        self,
        database_url: str,
        *,
        replica_id: str,
        interval: float,
        poll_interval: float = 1.0,
        wait_timeout: float = 60.0,
        heartbeat_interval: float = 2.0,
        stale_after: float = 15.0,
        idle_poll: float = 0.25,
    ) -> None:
        self.dsn = asyncpg_dsn(database_url)
        self.replica_id = replica_id
        self.interval = interval
        self.poll_interval = poll_interval
        self.wait_timeout = wait_timeout
        self.heartbeat_interval = heartbeat_interval
        self.stale_after = stale_after
        self.idle_poll = idle_poll
        self.burst = max(1, int(0.05 / interval))
        self.is_dispatcher = False
        self.listening = asyncio.Event()
        self._pool: Any = None
        self._waiters: dict[uuid.UUID, asyncio.Future[None]] = {}
        self._enqueued = asyncio.Event()
        self._background: set[asyncio.Task[None]] = set()

    # -- lifecycle --------------------------------------------------------------------------
    async def _ensure_pool(self) -> Any:
        if self._pool is None:
            self._pool = await asyncpg.create_pool(self.dsn, min_size=1, max_size=10)
        return self._pool

    async def close(self) -> None:
        for task in list(self._background):
            with contextlib.suppress(Exception):
                await task
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    # -- the waiting side -------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def slot(self, priority: Priority, timeout: float | None = None) -> AsyncIterator[None]:
        await self.acquire(priority, timeout)
        yield

    async def acquire(self, priority: Priority, timeout: float | None = None) -> None:
        """Wait until the dispatcher grants this call a slot; raise `GovernorTimeout`."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + (timeout if timeout is not None else self.wait_timeout)
        row_id = uuid.uuid4()
        granted: asyncio.Future[None] = loop.create_future()
        self._waiters[row_id] = granted
        pool = await self._ensure_pool()
        try:
            async with pool.acquire() as conn, conn.transaction():
                await conn.execute(
                    "INSERT INTO governor_queue (id, priority_class, due_at, replica_id)"
                    " VALUES ($1, $2, $3, $4)",
                    row_id,
                    priority.priority_class,
                    priority.sort_due,
                    self.replica_id,
                )
                await conn.execute("SELECT pg_notify($1, '')", ENQUEUE_CHANNEL)
            while True:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    if await self._granted(row_id):
                        break
                    GOVERNOR_TIMEOUTS.inc()
                    raise GovernorTimeout("no HMRC request slot within the wait")
                try:
                    await asyncio.wait_for(
                        asyncio.shield(granted), min(self.poll_interval, remaining)
                    )
                    break
                except TimeoutError:
                    # A lost notification (listener reconnecting) must not strand a call.
                    if await self._granted(row_id):
                        break
        finally:
            self._waiters.pop(row_id, None)
            self._spawn(self._forget(row_id))
        GOVERNOR_WAIT.labels(str(priority.priority_class)).observe(loop.time() - started)

    async def _granted(self, row_id: uuid.UUID) -> bool:
        pool = await self._ensure_pool()
        async with pool.acquire() as conn:
            value = await conn.fetchval(
                "SELECT granted_at IS NOT NULL FROM governor_queue WHERE id = $1", row_id
            )
        return bool(value)

    async def _forget(self, row_id: uuid.UUID) -> None:
        try:
            pool = await self._ensure_pool()
            async with pool.acquire() as conn:
                await conn.execute("DELETE FROM governor_queue WHERE id = $1", row_id)
        except Exception as exc:  # the dispatcher's clean-up removes it later
            log.warning("governor row not removed", error=str(exc))

    def _spawn(self, coro: Any) -> None:
        # Runs to completion even when the waiter was cancelled.
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def pause(self, seconds: float) -> None:
        """HMRC said 429: no replica gets a slot for `seconds`."""
        GOVERNOR_PAUSES.inc()
        pool = await self._ensure_pool()
        async with pool.acquire() as conn:
            await conn.execute(
                "UPDATE governor_state SET paused_until = GREATEST("
                " COALESCE(paused_until, clock_timestamp()),"
                " clock_timestamp() + make_interval(secs => $1)) WHERE id = 1",
                float(seconds),
            )

    async def queue_depth(self) -> int:
        pool = await self._ensure_pool()
        async with pool.acquire() as conn:
            return int(
                await conn.fetchval("SELECT count(*) FROM governor_queue WHERE granted_at IS NULL")
            )

    # -- the listener (every replica) -------------------------------------------------------
    def _on_grant(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        for item in payload.split(","):
            try:
                row_id = uuid.UUID(item)
            except ValueError:
                continue
            future = self._waiters.get(row_id)
            if future is not None and not future.done():
                future.set_result(None)

    def _on_enqueue(self, _conn: Any, _pid: int, _channel: str, _payload: str) -> None:
        self._enqueued.set()

    async def listen_forever(self) -> None:
        delay = 0.2
        while True:
            conn: Any = None
            try:
                conn = await asyncpg.connect(self.dsn)
                await conn.add_listener(GRANT_CHANNEL, self._on_grant)
                await conn.add_listener(ENQUEUE_CHANNEL, self._on_enqueue)
                self.listening.set()
                delay = 0.2
                while True:
                    await conn.execute(
                        "INSERT INTO governor_replicas (replica_id, seen_at)"
                        " VALUES ($1, clock_timestamp()) ON CONFLICT (replica_id)"
                        " DO UPDATE SET seen_at = excluded.seen_at",
                        self.replica_id,
                    )
                    # Grants that arrived while reconnecting: the waiters' poll finds them.
                    await asyncio.sleep(self.heartbeat_interval)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.listening.clear()
                log.warning("governor listener lost its connection", error=str(exc))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            finally:
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(conn.close(), 2)

    # -- the dispatcher (one replica at a time) ---------------------------------------------
    async def dispatch_forever(self) -> None:
        delay = 0.2
        while True:
            conn: Any = None
            try:
                conn = await asyncpg.connect(self.dsn)
                while not await conn.fetchval(  # noqa: ASYNC110 - another replica holds it
                    "SELECT pg_try_advisory_lock($1)", DISPATCHER_LOCK
                ):
                    await asyncio.sleep(1.0)
                self.is_dispatcher = True
                GOVERNOR_DISPATCHER.set(1)
                log.info("governor dispatcher role taken", replica=self.replica_id)
                delay = 0.2
                await self._dispatch(conn)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("governor dispatcher stopped; will retry", error=str(exc))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            finally:
                self.is_dispatcher = False
                GOVERNOR_DISPATCHER.set(0)
                if conn is not None:
                    # Closing the session releases the advisory lock for another replica.
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(conn.close(), 2)

    async def _dispatch(self, conn: Any) -> None:
        loop = asyncio.get_running_loop()
        next_cleanup = 0.0
        while True:
            if loop.time() >= next_cleanup:
                await self._cleanup(conn)
                next_cleanup = loop.time() + 5.0
            state = await conn.fetchrow(
                "SELECT EXTRACT(EPOCH FROM clock_timestamp() - last_grant_at)::float8 AS since,"
                " EXTRACT(EPOCH FROM paused_until - clock_timestamp())::float8 AS paused"
                " FROM governor_state WHERE id = 1"
            )
            since, paused = state["since"], state["paused"]
            wait = max(
                self.interval - since if since is not None else 0.0,
                paused if paused is not None else 0.0,
                0.0,
            )
            if wait > 0:
                await asyncio.sleep(wait)
                continue  # read again: a pause may have been set meanwhile
            self._enqueued.clear()
            # Slots that fell due while this loop ran (at least one), up to the burst.
            slots = 1 if since is None else min(self.burst, max(1, int(since / self.interval)))
            if not await self._grant(conn, slots):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._enqueued.wait(), self.idle_poll)

    async def _grant(self, conn: Any, slots: int) -> int:
        """Grant up to `slots` waiting rows, most urgent first; announce them in one NOTIFY."""
        async with conn.transaction():
            rows = await conn.fetch(
                "WITH next AS (SELECT id FROM governor_queue WHERE granted_at IS NULL"
                " ORDER BY priority_class, due_at, enqueued_at LIMIT $1 FOR UPDATE SKIP LOCKED)"
                " UPDATE governor_queue q SET granted_at = clock_timestamp() FROM next"
                " WHERE q.id = next.id RETURNING q.id",
                slots,
            )
            if not rows:
                return 0
            await conn.execute(
                "UPDATE governor_state SET last_grant_at = clock_timestamp() WHERE id = 1"
            )
            payload = ",".join(str(row["id"]) for row in rows)
            await conn.execute("SELECT pg_notify($1, $2)", GRANT_CHANNEL, payload)
        GOVERNOR_GRANTS.inc(len(rows))
        return len(rows)

    async def _cleanup(self, conn: Any) -> None:
        stale = timedelta(seconds=self.stale_after)
        await conn.execute(
            "DELETE FROM governor_queue q WHERE q.enqueued_at < clock_timestamp() - $1::interval"
            " AND NOT EXISTS (SELECT 1 FROM governor_replicas r WHERE r.replica_id = q.replica_id"
            " AND r.seen_at > clock_timestamp() - $1::interval)",
            stale,
        )
        await conn.execute(
            "DELETE FROM governor_queue"
            " WHERE granted_at < clock_timestamp() - interval '60 seconds'"
        )
        await conn.execute(
            "DELETE FROM governor_replicas WHERE seen_at < clock_timestamp() - interval '1 day'"
        )
