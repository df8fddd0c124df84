"""The simulator's state: served from memory, written through to PostgreSQL.

Every change is written to `simulator_state` (one JSON document per record) before it is
acknowledged, and everything is loaded back at start-up, so a restart loses nothing — as
with HMRC — while reads never touch the database (see docs/decisions/0002).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any, Protocol

import sqlalchemy as sa

from services.common import jsonutil
from services.common.database import Database
from services.hmrc_sandbox.records import (
    Application,
    AuthCode,
    Grant,
    StoredReturn,
    TestUser,
    Token,
    to_doc,
)

_UPSERT = sa.text(
    "INSERT INTO simulator_state (kind, key, value, updated_at) "
    "VALUES (:kind, :key, CAST(:value AS jsonb), now()) "
    "ON CONFLICT (kind, key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()"
)
_DELETE = sa.text("DELETE FROM simulator_state WHERE kind = :kind AND key = :key")
_LOAD = sa.text("SELECT kind, key, value FROM simulator_state")
_CLEAR = sa.text("TRUNCATE simulator_state")


class Record(Protocol):
    KIND: str

    @property
    def key(self) -> str: ...


class Persistence:
    """Writes are group-committed: concurrent `put`s share one transaction, so a burst of
    submissions costs one round of commits rather than one each; each caller still returns
    only once its own rows are committed."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._pending: list[tuple[list[dict[str, str]], asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def put(self, *records: Record) -> None:
        rows = [{"kind": r.KIND, "key": r.key, "value": jsonutil.dumps(to_doc(r))} for r in records]
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((rows, done))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="hmrc-sandbox-writes")
        await done

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            rows = [row for rows, _ in batch for row in rows]
            error: BaseException | None = None
            try:
                async with self.db.engine.begin() as conn:
                    await conn.execute(_UPSERT, rows)
            except Exception as exc:
                error = exc
            for _, done in batch:
                if done.done():
                    continue
                if error is None:
                    done.set_result(None)
                else:
                    done.set_exception(error)

    async def put_doc(self, kind: str, key: str, doc: dict[str, Any]) -> None:
        async with self.db.engine.begin() as conn:
            await conn.execute(_UPSERT, {"kind": kind, "key": key, "value": jsonutil.dumps(doc)})

    async def delete(self, kind: str, *keys: str) -> None:
        if not keys:
            return
        async with self.db.engine.begin() as conn:
            await conn.execute(_DELETE, [{"kind": kind, "key": k} for k in keys])

    async def load(self) -> list[tuple[str, str, dict[str, Any]]]:
        async with self.db.engine.connect() as conn:
            rows = (await conn.execute(_LOAD)).all()
        return [(str(r[0]), str(r[1]), dict(r[2])) for r in rows]

    async def clear(self) -> None:
        async with self.db.engine.begin() as conn:
            await conn.execute(_CLEAR)


class State:
    """Everything the simulator knows, indexed for the requests that read it."""

    def __init__(self) -> None:
        self.applications: dict[str, Application] = {}
        self.users: dict[str, TestUser] = {}
        self.users_by_vrn: dict[str, TestUser] = {}
        self.codes: dict[str, AuthCode] = {}
        self.grants: dict[str, Grant] = {}
        self.tokens: dict[str, Token] = {}
        self.tokens_by_grant: defaultdict[str, set[str]] = defaultdict(set)
        self.returns: dict[tuple[str, str], StoredReturn] = {}
        self.returns_by_vrn: defaultdict[str, dict[str, StoredReturn]] = defaultdict(dict)
        self.documents: dict[tuple[str, str], dict[str, Any]] = {}

    def add(self, record: Record) -> None:
        if isinstance(record, Application):
            self.applications[record.client_id] = record
        elif isinstance(record, TestUser):
            self.users[record.user_id] = record
            self.users_by_vrn[record.vrn] = record
        elif isinstance(record, AuthCode):
            self.codes[record.code_digest] = record
        elif isinstance(record, Grant):
            self.grants[record.grant_id] = record
        elif isinstance(record, Token):
            self.tokens[record.token_digest] = record
            self.tokens_by_grant[record.grant_id].add(record.token_digest)
        elif isinstance(record, StoredReturn):
            self.returns[(record.vrn, record.period_key)] = record
            self.returns_by_vrn[record.vrn][record.period_key] = record
        else:
            raise TypeError(type(record).__name__)

    def discard_token(self, digest_: str) -> None:
        token = self.tokens.pop(digest_, None)
        if token is not None:
            self.tokens_by_grant[token.grant_id].discard(digest_)

    def discard_return(self, vrn: str, period_key: str) -> None:
        self.returns.pop((vrn, period_key), None)
        self.returns_by_vrn[vrn].pop(period_key, None)

    def load(self, rows: list[tuple[str, str, dict[str, Any]]]) -> None:
        kinds: dict[str, Any] = {
            cls.KIND: cls for cls in (Application, TestUser, AuthCode, Grant, Token, StoredReturn)
        }
        for kind, key, doc in rows:
            cls = kinds.get(kind)
            if cls is None:
                self.documents[(kind, key)] = doc
            else:
                self.add(cls.from_doc(doc))
