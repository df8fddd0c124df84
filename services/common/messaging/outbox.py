"""Transactional outbox: events are written with the state change, then published by a relay.

`add` stores the event in the caller's transaction together with the current trace
context. The relay claims unpublished rows (`FOR UPDATE SKIP LOCKED`, so replicas share the
work), publishes each with `Nats-Msg-Id` = the row id (the broker drops a re-publish within
its duplicate window) and marks them published in the same transaction. A relay killed
mid-batch leaves its rows unmarked; the next run publishes them again and the broker, or
the consumer's inbox beyond the window, absorbs the repeat.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Mapping
from contextlib import suppress
from datetime import UTC, datetime
from typing import Any, Protocol

import sqlalchemy as sa
from opentelemetry import trace
from opentelemetry.trace import SpanKind
from sqlalchemy.ext.asyncio import AsyncSession

from services.common import telemetry
from services.common.database import Database
from services.common.logging import get_logger
from services.common.messaging.metrics import OUTBOX_BACKLOG, OUTBOX_OLDEST_AGE, OUTBOX_PUBLISHED
from services.common.messaging.tables import outbox
from services.common.tasks import raise_if_cancelling

log = get_logger(__name__)
tracer = telemetry.get_tracer(__name__)


class Publisher(Protocol):
    """The part of `nats.js.JetStreamContext` the relay uses."""

    async def publish(
        self,
        subject: str,
        payload: bytes = b"",
        timeout: float | None = None,
        stream: str | None = None,
        headers: dict[str, Any] | None = None,
    ) -> Any: ...


async def add(
    session: AsyncSession,
    subject: str,
    payload: Mapping[str, Any],
    headers: Mapping[str, str] | None = None,
) -> uuid.UUID:
    """Record an event in the caller's transaction; it is published after commit."""
    event_id = uuid.uuid4()
    await session.execute(
        sa.insert(outbox).values(
            id=event_id,
            subject=subject,
            payload=dict(payload),
            headers=telemetry.inject(dict(headers or {})),
        )
    )
    return event_id


class OutboxRelay:
    def __init__(
        self,
        db: Database,
        publisher: Publisher,
        *,
        batch_size: int = 200,
        poll_interval: float = 0.2,
        publish_timeout: float = 5.0,
        service: str = "unknown",
        metrics_interval: float = 5.0,
    ) -> None:
        self.db = db
        self.service = service
        self.metrics_interval = metrics_interval
        self.publisher = publisher
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.publish_timeout = publish_timeout
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Publish now rather than at the next poll (call after committing events)."""
        self._wake.set()

    async def publish_batch(self) -> int:
        """Publish one batch of unpublished events; returns how many were published."""
        async with self.db.transaction() as session:
            rows = (
                await session.execute(
                    # The payload as stored: decoding it would turn JSON numbers into Decimals,
                    # which `jsonutil.dumps` writes as strings, changing the event's types.
                    sa.select(
                        outbox.c.id,
                        outbox.c.subject,
                        sa.cast(outbox.c.payload, sa.Text).label("payload"),
                        outbox.c.headers,
                    )
                    .where(outbox.c.published_at.is_(None))
                    .order_by(outbox.c.created_at, outbox.c.id)
                    .limit(self.batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not rows:
                return 0
            results = await asyncio.gather(
                *(self._publish(r.id, r.subject, r.payload, r.headers) for r in rows),
                return_exceptions=True,
            )
            # Any failure leaves the whole batch unmarked; what did go out is re-published
            # later and dropped by the broker as a duplicate.
            for result in results:
                if isinstance(result, BaseException):
                    raise result
            OUTBOX_PUBLISHED.labels(self.service).inc(len(rows))
            await session.execute(
                sa.update(outbox)
                .where(outbox.c.id.in_([r.id for r in rows]))
                .values(published_at=datetime.now(UTC))
            )
            return len(rows)

    async def _publish(
        self, event_id: uuid.UUID, subject: str, payload: str, headers: Mapping[str, str]
    ) -> None:
        # Continue the trace of the request that wrote the row.
        parent = telemetry.extract(headers)
        with tracer.start_as_current_span(
            f"{subject} publish",
            context=parent,
            kind=SpanKind.PRODUCER,
            attributes={
                "messaging.system": "nats",
                "messaging.operation.type": "publish",
                "messaging.destination.name": subject,
                "messaging.message.id": str(event_id),
            },
        ):
            message_headers = telemetry.inject(
                {k: v for k, v in headers.items() if k not in ("traceparent", "tracestate")}
            )
            message_headers["Nats-Msg-Id"] = str(event_id)
            await self.publisher.publish(
                subject,
                payload.encode(),
                timeout=self.publish_timeout,
                headers=message_headers,
            )

    async def backlog(self) -> tuple[int, float]:
        """Unpublished events and the age in seconds of the oldest one."""
        async with self.db.sessions() as session:
            count, oldest = (
                await session.execute(
                    sa.select(sa.func.count(), sa.func.min(outbox.c.created_at)).where(
                        outbox.c.published_at.is_(None)
                    )
                )
            ).one()
        age = (datetime.now(UTC) - oldest).total_seconds() if oldest else 0.0
        return int(count), age

    async def run(self) -> None:
        """Publish until cancelled; errors (database or broker down) back off and retry."""
        delay = self.poll_interval
        next_report = 0.0
        while True:
            try:
                if time.monotonic() >= next_report:
                    next_report = time.monotonic() + self.metrics_interval
                    count, age = await self.backlog()
                    OUTBOX_BACKLOG.labels(self.service).set(count)
                    OUTBOX_OLDEST_AGE.labels(self.service).set(age)
                published = await self.publish_batch()
                delay = self.poll_interval
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                raise_if_cancelling()
                published = 0
                delay = min(max(delay * 2, 0.5), 10.0)
                log.warning("outbox relay failed; will retry", error=str(exc), retry_in=delay)
                trace.get_current_span().record_exception(exc)
            if published == self.batch_size:
                continue
            self._wake.clear()
            with suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)
