"""Appending drafts to the chain: de-duplicate, seal personal data, link, insert.

One transaction per batch holds the append lock from reading the head to inserting the last
link, so concurrent appenders (replicas, the erasure endpoint) serialise and the chain stays
linear. Redeliveries are dropped by the shared `inbox` table in the same transaction.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.audit import chain
from services.audit.models import bodies, records, subject_keys
from services.audit.records import Draft
from services.audit.sealing import KeyWrapper, seal
from services.common.messaging.tables import inbox

KeyRef = tuple[str, str]  # (tenant id or '', data subject)


@dataclass(frozen=True)
class Appended:
    seq: int
    record_id: uuid.UUID
    draft: Draft


async def data_keys(
    session: AsyncSession, wrapper: KeyWrapper, wanted: set[KeyRef]
) -> dict[KeyRef, tuple[uuid.UUID, bytes]]:
    """The live data key of each (tenant, subject); created when missing. Called under the
    append lock, the only place keys are created, so two appenders never race here."""
    if not wanted:
        return {}
    rows = (
        await session.execute(
            sa.select(
                subject_keys.c.id,
                subject_keys.c.tenant_id,
                subject_keys.c.data_subject,
                subject_keys.c.wrapped_key,
            ).where(
                subject_keys.c.erased_at.is_(None),
                sa.tuple_(subject_keys.c.tenant_id, subject_keys.c.data_subject).in_(list(wanted)),
            )
        )
    ).all()
    found = {
        (r.tenant_id, r.data_subject): (r.id, wrapper.unwrap(r.id, r.wrapped_key)) for r in rows
    }
    new_rows = []
    for ref in wanted - found.keys():
        key_id = uuid.uuid4()
        key, wrapped = wrapper.new_key(key_id)
        found[ref] = (key_id, key)
        new_rows.append(
            {"id": key_id, "tenant_id": ref[0], "data_subject": ref[1], "wrapped_key": wrapped}
        )
    if new_rows:
        await session.execute(sa.insert(subject_keys), new_rows)
    return found


async def first_seen(session: AsyncSession, consumer: str, message_ids: list[str]) -> set[str]:
    """Record the ids in the inbox; return those never seen before."""
    if not message_ids:
        return set()
    result = await session.execute(
        insert(inbox)
        .values([{"consumer": consumer, "message_id": m} for m in message_ids])
        .on_conflict_do_nothing()
        .returning(inbox.c.message_id)
    )
    return {row[0] for row in result}


async def append(
    session: AsyncSession, wrapper: KeyWrapper, drafts: list[Draft], *, consumer: str
) -> list[Appended]:
    """Append the drafts not seen before, in order; returns what was appended."""
    unique: dict[str, Draft] = {}
    for d in drafts:
        unique.setdefault(d.message_id, d)
    await session.execute(sa.select(sa.func.pg_advisory_xact_lock(chain.APPEND_LOCK)))
    fresh = await first_seen(session, consumer, list(unique))
    todo = [d for m, d in unique.items() if m in fresh]
    if not todo:
        return []
    seq, prev = await chain.head(session)
    wanted = {(d.tenant_id or "", d.data_subject) for d in todo if d.personal or d.body}
    keys = await data_keys(session, wrapper, wanted)
    now = datetime.now(UTC)
    record_rows: list[dict[str, Any]] = []
    body_rows: list[dict[str, Any]] = []
    appended: list[Appended] = []
    for d in todo:
        seq += 1
        record_id = uuid.uuid4()
        key_id: uuid.UUID | None = None
        sealed = sealed_body = None
        if d.personal or d.body:
            key_id, key = keys[(d.tenant_id or "", d.data_subject)]
            if d.personal:
                sealed = seal(key, record_id, d.personal)
            if d.body:
                sealed_body = seal(key, record_id, d.body)
        content = chain.canonical(
            {
                **d.public,
                "kind": d.kind,
                "record_class": d.record_class,
                "tenant_id": d.tenant_id,
                "occurred_at": chain.utc_text(d.occurred_at),
                "subject_key_id": str(key_id) if key_id else None,
                "sealed_sha256": chain.sha256(sealed).hex() if sealed else None,
                "body_sha256": chain.sha256(sealed_body).hex() if sealed_body else None,
            }
        )
        digest = chain.content_digest(content)
        link = chain.link_hash(
            prev,
            seq=seq,
            record_id=record_id,
            message_id=d.message_id,
            kind=d.kind,
            record_class=d.record_class,
            tenant_id=d.tenant_id,
            occurred_at=d.occurred_at,
            ingested_at=now,
            digest=digest,
        )
        record_rows.append(
            {
                **d.indexed,
                "seq": seq,
                "record_id": record_id,
                "message_id": d.message_id,
                "kind": d.kind,
                "record_class": d.record_class,
                "tenant_id": d.tenant_id,
                "occurred_at": d.occurred_at,
                "ingested_at": now,
                "content": content,
                "subject_key_id": key_id,
                "sealed": sealed,
                "content_digest": digest,
                "prev_hash": prev,
                "hash": link,
            }
        )
        if sealed_body:
            body_rows.append({"seq": seq, "sealed": sealed_body, "created_at": now})
        appended.append(Appended(seq, record_id, d))
        prev = link
    await session.execute(sa.insert(records), record_rows)
    if body_rows:
        await session.execute(sa.insert(bodies), body_rows)
    return appended
