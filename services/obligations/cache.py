"""The HMRC answer cache in PostgreSQL, and the one refresh per key.

A fresh entry is answered from PostgreSQL. Otherwise (or when the client says
`Cache-Control: no-cache`) one refresh runs per key: requests in this process join the
refresh already in flight (single-flight), and across replicas a transaction-scoped
advisory lock on the key lets one replica call HMRC while the others wait and then read
what it stored. When HMRC is down or throttled the last known answer is served, marked
stale; with nothing cached the caller is told so plainly.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from services.common.database import Database
from services.common.errors import ProblemError
from services.common.logging import get_logger
from services.obligations.freshness import Answer, utcnow
from services.obligations.gateway_client import GatewayAnswer, GatewayUnavailable
from services.obligations.memo import Memo
from services.obligations.metrics import CACHE_ANSWERS, GATEWAY_READS
from services.obligations.models import CacheEntry

log = get_logger(__name__)
entries = cast(sa.Table, CacheEntry.__table__)

Fetch = Callable[[], Awaitable[GatewayAnswer]]
# Runs in the refresh's transaction after a new answer is stored (e.g. clear markers).
AfterStore = Callable[[AsyncConnection, dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class CacheKey:
    tenant_id: str
    vrn: str
    kind: str
    query: Mapping[str, str] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        raw = json.dumps([self.tenant_id, self.vrn, self.kind, sorted(self.query.items())])
        return hashlib.sha256(raw.encode()).hexdigest()

    @property
    def lock_id(self) -> int:
        """A signed 64-bit advisory lock id derived from the key."""
        return int.from_bytes(bytes.fromhex(self.digest[:16]), "big", signed=True)


def no_cache_unavailable(exc: GatewayUnavailable) -> ProblemError:
    headers = {"Retry-After": exc.retry_after or "30"}
    return ProblemError(
        503,
        "HMRC_UNAVAILABLE_NO_CACHED_DATA",
        "HMRC cannot be asked right now and there is no earlier answer to show.",
        headers=headers,
        hmrc_code=exc.code,
        hmrc_detail=exc.detail,
        action="Try again later; nothing is wrong with the request.",
    )


class Cache:
    def __init__(
        self, db: Callable[[], Database], *, lock_timeout: float, memo_ttl: float = 0.0
    ) -> None:
        self._db = db
        self.lock_timeout = lock_timeout
        self._inflight: dict[str, asyncio.Task[Answer]] = {}
        # Rows read in the last moment: hot keys at hundreds of reads a second cost
        # PostgreSQL one query per `memo_ttl` instead of one per read.
        self._memo: Memo[Answer | None] = Memo(memo_ttl)
        self._loading: dict[str, asyncio.Task[Answer | None]] = {}

    async def load(self, key: CacheKey) -> Answer | None:
        digest = key.digest
        found, memo = self._memo.get(digest)
        if found:
            return memo
        # Coalesced too: when the memo runs out, one query serves every waiting request.
        task = self._loading.get(digest)
        if task is None:
            task = asyncio.create_task(self._load_row(digest))
            self._loading[digest] = task
            task.add_done_callback(lambda _: self._loading.pop(digest, None))
        return await asyncio.shield(task)

    async def _load_row(self, digest: str) -> Answer | None:
        async with self._db().engine.connect() as conn:
            answer = await _select(conn, digest)
        self._memo.put(digest, answer)
        return answer

    async def read(
        self,
        key: CacheKey,
        fetch: Fetch,
        *,
        ttl: float,
        force: bool = False,
        after_store: AfterStore | None = None,
    ) -> Answer:
        started = utcnow()
        if not force:
            cached = await self.load(key)
            if cached is not None and cached.is_fresh(ttl, started):
                CACHE_ANSWERS.labels(key.kind, "hit").inc()
                return cached
        answer = await self._single_flight(key, fetch, started, ttl, force, after_store)
        if answer.source == "hmrc":
            self._memo.put(key.digest, Answer(answer.body, answer.fetched_at, "cache"))
        outcome = "stale" if answer.stale else ("miss" if answer.source == "hmrc" else "hit")
        CACHE_ANSWERS.labels(key.kind, outcome).inc()
        return answer

    async def _single_flight(
        self,
        key: CacheKey,
        fetch: Fetch,
        started: datetime,
        ttl: float,
        force: bool,
        after_store: AfterStore | None,
    ) -> Answer:
        digest = key.digest
        task = self._inflight.get(digest)
        if task is None:
            task = asyncio.create_task(
                self._refresh(key, fetch, started, ttl, force, after_store),
                name=f"refresh-{key.kind}",
            )
            self._inflight[digest] = task
            task.add_done_callback(lambda _: self._inflight.pop(digest, None))
        # Shielded: one caller going away must not cancel the refresh the others wait on.
        try:
            return await asyncio.shield(task)
        except GatewayUnavailable as exc:
            CACHE_ANSWERS.labels(key.kind, "unavailable").inc()
            raise no_cache_unavailable(exc) from None

    async def _refresh(
        self,
        key: CacheKey,
        fetch: Fetch,
        started: datetime,
        ttl: float,
        force: bool,
        after_store: AfterStore | None,
    ) -> Answer:
        db = self._db()
        async with db.engine.connect() as conn:
            await conn.begin()
            ms = max(1, int(self.lock_timeout * 1000))
            await conn.execute(sa.text(f"SET LOCAL lock_timeout = {ms}"))
            try:
                await conn.execute(sa.select(sa.func.pg_advisory_xact_lock(key.lock_id)))
            except DBAPIError:
                # Another replica's refresh outlived our patience: answer from the cache.
                await conn.rollback()
                cached = await self.load(key)
                if cached is None:
                    raise GatewayUnavailable(
                        "HMRC_REFRESH_BUSY", "Another refresh of this answer is still running."
                    ) from None
                return Answer(cached.body, cached.fetched_at, "cache", "HMRC_REFRESH_BUSY")
            cached = await _select(conn, key.digest)
            # Another replica refreshed while we queued for the lock: use its answer.
            if cached is not None and (
                cached.fetched_at >= started or (not force and cached.is_fresh(ttl))
            ):
                await conn.commit()
                return cached
            try:
                got = await fetch()
            except GatewayUnavailable as exc:
                GATEWAY_READS.labels(key.kind, "unavailable").inc()
                await conn.rollback()
                log.warning("hmrc read failed; serving what is cached", code=exc.code)
                if cached is None:
                    raise
                return Answer(cached.body, cached.fetched_at, "cache", exc.code)
            except ProblemError:
                GATEWAY_READS.labels(key.kind, "refused").inc()
                await conn.rollback()
                raise
            GATEWAY_READS.labels(key.kind, "ok").inc()
            fetched_at = utcnow()
            await _upsert(conn, key, got, fetched_at)
            if after_store is not None:
                await after_store(conn, got.body)
            await conn.commit()
            return Answer(got.body, fetched_at, "hmrc")


async def _select(conn: AsyncConnection, digest: str) -> Answer | None:
    row = (
        await conn.execute(
            sa.select(entries.c.body, entries.c.fetched_at).where(entries.c.key == digest)
        )
    ).first()
    if row is None:
        return None
    return Answer(dict(row.body), row.fetched_at, "cache")


async def _upsert(
    conn: AsyncConnection, key: CacheKey, got: GatewayAnswer, fetched_at: datetime
) -> None:
    values = {
        "key": key.digest,
        "tenant_id": key.tenant_id,
        "vrn": key.vrn,
        "kind": key.kind,
        "query": dict(key.query),
        "body": got.body,
        "correlation_id": got.correlation_id,
        "fetched_at": fetched_at,
    }
    stmt = insert(entries).values(**values)
    await conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[entries.c.key],
            set_={
                "body": stmt.excluded.body,
                "correlation_id": stmt.excluded.correlation_id,
                "fetched_at": stmt.excluded.fetched_at,
            },
        )
    )
