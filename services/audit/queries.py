"""Reading the log: filters, tenant scope, cursor pagination, and opening sealed data."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.audit.models import bodies, records, subject_keys
from services.audit.sealing import KeyWrapper, Unreadable, unseal
from services.common.errors import ProblemError

# Content fields that only serve the chain; not shown to readers.
_INTERNAL = frozenset({"sealed_sha256", "body_sha256", "subject_key_id"})
ALL_TENANTS = None
_BAD_CURSOR = "The cursor is not one this API issued."


@dataclass(frozen=True)
class Filters:
    tenant_id: str | None  # None: every tenant (platform callers only)
    kind: str | None = None
    vrn: str | None = None
    period_key: str | None = None
    submission_id: str | None = None
    trace_id: str | None = None
    correlation_id: str | None = None
    action: str | None = None
    occurred_from: datetime | None = None
    occurred_to: datetime | None = None


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": seq}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        after = json.loads(raw)["after"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise ProblemError(400, "INVALID_CURSOR", _BAD_CURSOR) from None
    if not isinstance(after, int) or isinstance(after, bool) or after < 0:
        raise ProblemError(400, "INVALID_CURSOR", _BAD_CURSOR)
    return after


def conditions(f: Filters) -> list[sa.ColumnElement[bool]]:
    where: list[sa.ColumnElement[bool]] = []
    if f.tenant_id is not ALL_TENANTS:
        where.append(records.c.tenant_id == f.tenant_id)
    for column, value in (
        (records.c.kind, f.kind),
        (records.c.vrn, f.vrn),
        (records.c.period_key, f.period_key),
        (records.c.submission_id, f.submission_id),
        (records.c.trace_id, f.trace_id),
        (records.c.correlation_id, f.correlation_id),
        (records.c.action, f.action),
    ):
        if value is not None:
            where.append(column == value)
    if f.occurred_from is not None:
        where.append(records.c.occurred_at >= f.occurred_from)
    if f.occurred_to is not None:
        where.append(records.c.occurred_at < f.occurred_to)
    return where


async def page(
    session: AsyncSession, wrapper: KeyWrapper, f: Filters, *, after: int, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    rows = (
        await session.execute(
            sa.select(records, bodies.c.sealed.label("body_sealed"))
            .select_from(records.outerjoin(bodies, bodies.c.seq == records.c.seq))
            .where(records.c.seq > after, *conditions(f))
            .order_by(records.c.seq)
            .limit(limit + 1)
        )
    ).all()
    more = len(rows) > limit
    rows = rows[:limit]
    items = await present(session, wrapper, rows)
    return items, encode_cursor(rows[-1].seq) if more else None


async def open_keys(
    session: AsyncSession, wrapper: KeyWrapper, key_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, bytes | None]:
    """The data keys for `key_ids`; None for a key erasure destroyed."""
    ids = {k for k in key_ids if k is not None}
    if not ids:
        return {}
    rows = (
        await session.execute(
            sa.select(subject_keys.c.id, subject_keys.c.wrapped_key).where(
                subject_keys.c.id.in_(ids)
            )
        )
    ).all()
    keys: dict[uuid.UUID, bytes | None] = {}
    for r in rows:
        try:
            keys[r.id] = wrapper.unwrap(r.id, r.wrapped_key)
        except Unreadable:
            keys[r.id] = None
    return keys


def _open(
    key: bytes | None, record_id: uuid.UUID, sealed: bytes | None, missing: str
) -> tuple[str, Any]:
    if sealed is None:
        return missing, None
    if key is None:
        return "erased", None
    try:
        return "available", unseal(key, record_id, bytes(sealed))
    except Unreadable:
        return "unreadable", None


def present_row(row: Any, key: bytes | None) -> dict[str, Any]:
    """One record as readers see it: chain fields, public content, opened sealed data."""
    item: dict[str, Any] = {
        "seq": row.seq,
        "record_id": str(row.record_id),
        "kind": row.kind,
        "record_class": row.record_class,
        "tenant_id": row.tenant_id,
        "occurred_at": row.occurred_at.isoformat(),
        "ingested_at": row.ingested_at.isoformat(),
        "hash": bytes(row.hash).hex(),
        "pruned": row.pruned_at is not None,
    }
    if row.content is not None:
        content = json.loads(row.content)
        item.update({k: v for k, v in content.items() if k not in _INTERNAL and k not in item})
    pruned_or_none = "pruned" if row.pruned_at is not None else "none"
    item["personal_state"], item["personal"] = _open(key, row.record_id, row.sealed, pruned_or_none)
    if row.kind == "hmrc_exchange":
        body_missing = "pruned" if row.pruned_at is not None else "expired"
        item["body_state"], item["body"] = _open(key, row.record_id, row.body_sealed, body_missing)
    return item


async def present(
    session: AsyncSession, wrapper: KeyWrapper, rows: Sequence[Any]
) -> list[dict[str, Any]]:
    keys = await open_keys(session, wrapper, (r.subject_key_id for r in rows))
    return [present_row(r, keys.get(r.subject_key_id)) for r in rows]
