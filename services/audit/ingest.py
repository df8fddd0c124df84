"""The durable JetStream consumer of every audit event (`audit.>`), appending in batches.

It is the common `Consumer` (same durable config, same dead-lettering after max_deliver,
same `inbox` table for de-duplication) with one difference: a fetched batch is appended in
one transaction instead of one transaction per message. Each append takes the chain lock
and reads the head, so batching is what makes >= 1000 events/s possible. A batch that
fails to store is retried message by message, so one bad event cannot hold up the rest.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncSession

from services.audit import appender, metrics
from services.audit.context import AuditContext
from services.audit.records import Draft, draft
from services.common import audit_events, jsonutil, telemetry
from services.common.logging import get_logger
from services.common.messaging import streams
from services.common.messaging.consumer import Consumer, Event
from services.common.messaging.metrics import CONSUMED

log = get_logger(__name__)
tracer = telemetry.get_tracer(__name__)

FILTER_SUBJECT = "audit.>"


async def _unused_handler(_: AsyncSession, __: Event) -> None:
    raise NotImplementedError("the audit consumer appends whole batches")


def to_event(msg: Msg) -> Event:
    headers = dict(msg.headers or {})
    meta = msg.metadata
    message_id = headers.get("Nats-Msg-Id") or f"{meta.stream}:{meta.sequence.stream}"
    return Event(
        subject=msg.subject,
        data=None,
        headers=headers,
        message_id=message_id,
        delivered=meta.num_delivered,
    )


def to_draft(msg: Msg, event: Event) -> Draft:
    """Decode and validate a message (raises on anything malformed)."""
    data = jsonutil.loads(msg.data) if msg.data else None
    parsed = audit_events.parse(msg.subject, data)
    return draft(msg.subject, event.message_id, parsed, dict(event.headers))


class AuditIngest(Consumer):
    def __init__(self, ctx: AuditContext, js: JetStreamContext) -> None:
        s = ctx.settings
        super().__init__(
            ctx.db,
            js,
            stream=streams.AUDIT.name,
            durable=s.ingest_durable,
            filter_subject=FILTER_SUBJECT,
            handler=_unused_handler,
            max_deliver=s.ingest_max_deliver,
            ack_wait_s=s.ingest_ack_wait_s,
            batch=s.ingest_batch_size,
            retry_delay_s=s.ingest_retry_delay_s,
            metrics_interval_s=s.lag_sample_interval_s,
        )
        self.ctx = ctx

    async def process_batch(self, messages: list[Msg]) -> None:
        ready: list[tuple[Msg, Event, Draft]] = []
        for msg in messages:
            event = to_event(msg)
            try:
                ready.append((msg, event, to_draft(msg, event)))
            except Exception as exc:
                await self._failed(msg, event, exc)
        if not ready:
            return
        try:
            await self._store(ready)
        except Exception as exc:
            if len(ready) == 1:
                await self._failed(ready[0][0], ready[0][1], exc)
                return
            log.warning("audit batch failed; storing one by one", size=len(ready), error=str(exc))
            for item in ready:
                try:
                    await self._store([item])
                except Exception as one_exc:
                    await self._failed(item[0], item[1], one_exc)

    async def _store(self, items: list[tuple[Msg, Event, Draft]]) -> None:
        started = time.perf_counter()
        with tracer.start_as_current_span(
            "audit append", attributes={"messaging.batch.message_count": len(items)}
        ):
            async with self.ctx.transaction() as session:
                done = await appender.append(
                    session, self.ctx.wrapper, [d for _, _, d in items], consumer=self.durable
                )
        metrics.BATCH_SECONDS.observe(time.perf_counter() - started)
        now = datetime.now(UTC)
        for a in done:
            metrics.INGESTED.labels(a.draft.kind).inc()
        CONSUMED.labels(self.durable, "processed").inc(len(done))
        CONSUMED.labels(self.durable, "duplicate").inc(len(items) - len(done))
        if done:
            metrics.CHAIN_HEAD.set(done[-1].seq)
        newest = max(msg.metadata.timestamp for msg, _, _ in items)
        for msg, _, _ in items:
            metrics.INGEST_DELAY.observe(max(0.0, (now - msg.metadata.timestamp).total_seconds()))
        metrics.CONSUMER_LAG_SECONDS.set(max(0.0, (now - newest).total_seconds()))
        # Committed: a lost ack only means a redelivery, which the inbox drops.
        for msg, _, _ in items:
            await msg.ack()
