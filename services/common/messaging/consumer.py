"""Durable pull consumers with explicit acks, an inbox for idempotency, and a dead-letter stream.

The handler runs in a database transaction that also records the message id in the
`inbox` table; a redelivered message finds its id there and is acknowledged without
running the handler again. After `max_deliver` failed attempts the message is copied to
`dlq.<durable>` on the dead-letter stream and acknowledged, so it stops blocking the rest.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from opentelemetry.trace import SpanKind, Status, StatusCode
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.common import jsonutil, telemetry
from services.common.database import Database
from services.common.logging import get_logger
from services.common.messaging.connection import DEAD_LETTER_PREFIX, DEAD_LETTER_STREAM
from services.common.messaging.metrics import CONSUMED, CONSUMER_PENDING, sample_streams
from services.common.messaging.tables import inbox
from services.common.tasks import raise_if_cancelling

log = get_logger(__name__)
tracer = telemetry.get_tracer(__name__)


@dataclass(frozen=True)
class Event:
    subject: str
    data: Any
    headers: Mapping[str, str]
    message_id: str
    delivered: int


Handler = Callable[[AsyncSession, Event], Awaitable[None]]


async def record_in_inbox(session: AsyncSession, consumer: str, message_id: str) -> bool:
    """True the first time (consumer, message_id) is seen, in the caller's transaction."""
    result = await session.execute(
        insert(inbox)
        .values(consumer=consumer, message_id=message_id)
        .on_conflict_do_nothing()
        .returning(inbox.c.message_id)
    )
    return result.first() is not None


async def _quietly_unsubscribe(sub: JetStreamContext.PullSubscription | None) -> None:
    if sub is not None:
        with suppress(Exception):
            await sub.unsubscribe()


class Consumer:
    def __init__(
        self,
        db: Database,
        js: JetStreamContext,
        *,
        stream: str,
        durable: str,
        filter_subject: str,
        handler: Handler,
        max_deliver: int = 5,
        ack_wait_s: float = 30.0,
        batch: int = 50,
        retry_delay_s: float = 1.0,
        metrics_interval_s: float = 5.0,
    ) -> None:
        self.metrics_interval_s = metrics_interval_s
        self.db = db
        self.js = js
        self.stream = stream
        self.durable = durable
        self.filter_subject = filter_subject
        self.handler = handler
        self.max_deliver = max_deliver
        self.ack_wait_s = ack_wait_s
        self.batch = batch
        self.retry_delay_s = retry_delay_s

    async def subscribe(self) -> JetStreamContext.PullSubscription:
        return await self.js.pull_subscribe(
            self.filter_subject,
            durable=self.durable,
            stream=self.stream,
            config=ConsumerConfig(
                durable_name=self.durable,
                ack_policy=AckPolicy.EXPLICIT,
                deliver_policy=DeliverPolicy.ALL,
                max_deliver=self.max_deliver,
                ack_wait=self.ack_wait_s,
                filter_subject=self.filter_subject,
            ),
        )

    async def run(self) -> None:
        """Consume until cancelled; survives broker and database outages."""
        sub: JetStreamContext.PullSubscription | None = None
        next_report = 0.0
        while True:
            # Python 3.11's wait_for (inside the client) can swallow a cancellation.
            raise_if_cancelling()
            try:
                if sub is None:
                    sub = await self.subscribe()
                if time.monotonic() >= next_report:
                    next_report = time.monotonic() + self.metrics_interval_s
                    info = await self.js.consumer_info(self.stream, self.durable)
                    CONSUMER_PENDING.labels(self.durable).set(
                        info.num_pending + info.num_ack_pending
                    )
                    # Where this consumer's messages end up when it gives up on them.
                    await sample_streams(self.js, self.stream, DEAD_LETTER_STREAM)
                try:
                    messages = await sub.fetch(self.batch, timeout=1.0)
                except (TimeoutError, NatsTimeoutError):
                    continue
                if type(self).process_batch is not Consumer.process_batch:
                    self.received(messages)
                await self.process_batch(messages)
            except asyncio.CancelledError:
                await _quietly_unsubscribe(sub)
                raise
            except Exception as exc:
                raise_if_cancelling()
                log.warning("consumer loop failed; retrying", durable=self.durable, error=str(exc))
                # A dropped subscription left behind would hold up closing the connection.
                await _quietly_unsubscribe(sub)
                sub = None
                await asyncio.sleep(self.retry_delay_s)

    def received(self, messages: list[Msg]) -> None:
        """A `receive` span per message, in its producer's trace.

        A consumer that handles a whole batch in one transaction (audit's appender) works
        under one span, which cannot be the child of every message's producer; these spans
        keep each producer → consumer edge in the trace the message came from."""
        for msg in messages:
            headers = dict(msg.headers or {})
            meta = msg.metadata
            tracer.start_span(
                f"{msg.subject} receive",
                context=telemetry.extract(headers),
                kind=SpanKind.CONSUMER,
                attributes={
                    **self._attributes(msg.subject, headers, meta.stream, meta.sequence.stream),
                    "messaging.operation.type": "receive",
                    "messaging.nats.delivered": meta.num_delivered,
                },
            ).end()

    def _attributes(
        self, subject: str, headers: Mapping[str, str], stream: str, sequence: int
    ) -> dict[str, str]:
        return {
            "messaging.system": "nats",
            "messaging.destination.name": subject,
            "messaging.consumer.group.name": self.durable,
            "messaging.message.id": headers.get("Nats-Msg-Id") or f"{stream}:{sequence}",
        }

    async def process_batch(self, messages: list[Msg]) -> None:
        """One fetched batch; each message in its own transaction unless overridden."""
        for msg in messages:
            await self.process(msg)

    async def process(self, msg: Msg) -> None:
        headers = dict(msg.headers or {})
        meta = msg.metadata
        message_id = headers.get("Nats-Msg-Id") or f"{meta.stream}:{meta.sequence.stream}"
        event = Event(
            subject=msg.subject,
            data=jsonutil.loads(msg.data) if msg.data else None,
            headers=headers,
            message_id=message_id,
            delivered=meta.num_delivered,
        )
        with tracer.start_as_current_span(
            f"{msg.subject} process",
            context=telemetry.extract(headers),
            kind=SpanKind.CONSUMER,
            attributes={
                **self._attributes(msg.subject, headers, meta.stream, meta.sequence.stream),
                "messaging.operation.type": "process",
                "messaging.nats.delivered": event.delivered,
            },
        ) as span:
            try:
                async with self.db.transaction() as session:
                    first_time = await record_in_inbox(session, self.durable, message_id)
                    if first_time:
                        await self.handler(session, event)
                    else:
                        span.set_attribute("messaging.duplicate", True)
            except Exception as exc:
                span.record_exception(exc)
                span.set_status(Status(StatusCode.ERROR, str(exc)))
                await self._failed(msg, event, exc)
                return
            await msg.ack_sync()
            CONSUMED.labels(self.durable, "processed" if first_time else "duplicate").inc()

    async def _failed(self, msg: Msg, event: Event, exc: Exception) -> None:
        if event.delivered < self.max_deliver:
            log.warning(
                "message handling failed; will redeliver",
                durable=self.durable,
                message_id=event.message_id,
                delivered=event.delivered,
                error=str(exc),
            )
            await msg.nak(delay=self.retry_delay_s * event.delivered)
            CONSUMED.labels(self.durable, "retried").inc()
            return
        log.error(
            "message dead-lettered",
            durable=self.durable,
            message_id=event.message_id,
            delivered=event.delivered,
            error=str(exc),
        )
        headers = {k: v for k, v in event.headers.items() if k != "Nats-Msg-Id"}
        headers.update(
            {
                "Nats-Msg-Id": f"dlq:{self.durable}:{event.message_id}",
                "Mtd-Dlq-Subject": event.subject,
                "Mtd-Dlq-Error": str(exc)[:500],
                "Mtd-Dlq-Delivered": str(event.delivered),
            }
        )
        await self.js.publish(f"{DEAD_LETTER_PREFIX}.{self.durable}", msg.data, headers=headers)
        await msg.ack_sync()
        CONSUMED.labels(self.durable, "dead_lettered").inc()
