"""The hash chain: canonical content, digests, link hashes, and verification.

Link n hashes link n-1's hash with the record's chain fields and the SHA-256 of its
content; the content in turn names the SHA-256 of its sealed (encrypted) personal part and
of its raw bodies. Clearing content (retention) or destroying a key (erasure) therefore
never changes a link, while any edit to a stored value breaks the link it sits in.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.audit.models import INDEXED_FIELDS, bodies, records

GENESIS = bytes(32)
# Taken around every append, so links are computed one batch at a time, in order.
APPEND_LOCK = 0x6D74_6461_7564  # "mtdaud"


def _plain(value: Any) -> Any:
    # Money stays exact: a Decimal is hashed (and shown) as its string.
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} cannot be part of audit content")


def canonical(value: Mapping[str, Any]) -> str:
    """The one JSON text a content mapping hashes as (sorted keys, no spaces)."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_plain
    )


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def content_digest(content: str) -> bytes:
    return sha256(b"mtd-audit-content-v1\n" + content.encode())


def utc_text(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def link_hash(
    prev_hash: bytes,
    *,
    seq: int,
    record_id: uuid.UUID,
    message_id: str,
    kind: str,
    record_class: str,
    tenant_id: str | None,
    occurred_at: datetime,
    ingested_at: datetime,
    digest: bytes,
) -> bytes:
    material = json.dumps(
        [
            "mtd-audit-link-v1",
            seq,
            str(record_id),
            message_id,
            kind,
            record_class,
            tenant_id,
            utc_text(occurred_at),
            utc_text(ingested_at),
            digest.hex(),
        ],
        separators=(",", ":"),
    )
    return sha256(prev_hash + material.encode())


async def head(session: AsyncSession) -> tuple[int, bytes]:
    """The chain head (seq, hash); read under APPEND_LOCK when about to append."""
    row = (
        await session.execute(
            sa.select(records.c.seq, records.c.hash).order_by(records.c.seq.desc()).limit(1)
        )
    ).first()
    return (int(row.seq), bytes(row.hash)) if row else (0, GENESIS)


@dataclass(frozen=True)
class BrokenLink:
    seq: int
    record_id: str | None
    reason: str
    detail: str


@dataclass(frozen=True)
class Verification:
    ok: bool
    records_checked: int
    head_seq: int
    head_hash: str | None
    first_broken: BrokenLink | None


def _check_content(row: Any) -> tuple[str, str] | None:
    """Why the row's stored content disagrees with its digest, or None."""
    if row.content is None:
        if row.pruned_at is None:
            return "content_missing", "content is gone but the record was never pruned"
        return None
    if content_digest(row.content) != bytes(row.content_digest):
        return "content_altered", "content does not match the digest the chain holds"
    content = json.loads(row.content)
    for name in INDEXED_FIELDS:
        if getattr(row, name) != content.get(name):
            return "index_altered", f"column {name} differs from the hashed content"
    key_id = str(row.subject_key_id) if row.subject_key_id is not None else None
    if key_id != content.get("subject_key_id"):
        return "index_altered", "column subject_key_id differs from the hashed content"
    sealed_sha = bytes(row.sealed_sha).hex() if row.sealed_sha is not None else None
    if sealed_sha != content.get("sealed_sha256"):
        return "sealed_altered", "sealed personal data does not match its hashed digest"
    if row.body_sha is not None and bytes(row.body_sha).hex() != content.get("body_sha256"):
        return "body_altered", "stored HMRC body does not match its hashed digest"
    return None


async def verify(session: AsyncSession, *, chunk: int = 5000) -> Verification:
    """Recompute every link from the start; stop at the first broken one."""
    expected_seq, prev = 1, GENESIS
    checked = 0
    while True:
        rows = (
            await session.execute(
                sa.select(
                    records,
                    sa.func.sha256(records.c.sealed).label("sealed_sha"),
                    sa.func.sha256(bodies.c.sealed).label("body_sha"),
                )
                .select_from(records.outerjoin(bodies, bodies.c.seq == records.c.seq))
                .where(records.c.seq >= expected_seq)
                .order_by(records.c.seq)
                .limit(chunk)
            )
        ).all()
        for row in rows:
            broken = _check_row(row, expected_seq, prev)
            if broken is not None:
                return Verification(False, checked, expected_seq - 1, prev.hex(), broken)
            checked += 1
            expected_seq, prev = row.seq + 1, bytes(row.hash)
        if len(rows) < chunk:
            head_hash = prev.hex() if checked else None
            return Verification(True, checked, expected_seq - 1, head_hash, None)


def _check_row(row: Any, expected_seq: int, prev: bytes) -> BrokenLink | None:
    record_id = str(row.record_id)
    if row.seq != expected_seq:
        return BrokenLink(
            expected_seq, None, "missing_record", f"records {expected_seq}..{row.seq - 1} are gone"
        )
    if bytes(row.prev_hash) != prev:
        return BrokenLink(
            row.seq, record_id, "prev_hash_mismatch", "does not follow its predecessor"
        )
    problem = _check_content(row)
    if problem is not None:
        return BrokenLink(row.seq, record_id, *problem)
    recomputed = link_hash(
        prev,
        seq=row.seq,
        record_id=row.record_id,
        message_id=row.message_id,
        kind=row.kind,
        record_class=row.record_class,
        tenant_id=row.tenant_id,
        occurred_at=row.occurred_at,
        ingested_at=row.ingested_at,
        digest=bytes(row.content_digest),
    )
    if recomputed != bytes(row.hash):
        return BrokenLink(row.seq, record_id, "hash_mismatch", "the link hash does not recompute")
    return None
