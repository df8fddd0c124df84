"""Outbox -> relay -> JetStream -> consumer delivers each event exactly once, even when the
relay dies mid-batch and the consumer sees redeliveries. Real PostgreSQL, real NATS."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.errors import NotFoundError
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import AsyncSession

from services.common import telemetry
from services.common.database import Database
from services.common.messaging import outbox
from services.common.messaging.connection import DEAD_LETTER, StreamSpec, ensure_stream
from services.common.messaging.consumer import Consumer, Event
from services.common.messaging.outbox import OutboxRelay
from services.common.messaging.tables import outbox as outbox_table
from tests.conftest import sql


def unique_stream() -> StreamSpec:
    tag = uuid.uuid4().hex[:10]
    return StreamSpec(name=f"T_{tag}", subjects=[f"t{tag}.>"])


async def write_events(db: Database, subject: str, count: int, per_tx: int = 50) -> list[str]:
    ids: list[str] = []
    for start in range(0, count, per_tx):
        async with db.transaction() as session:
            for n in range(start, min(count, start + per_tx)):
                event_id = await outbox.add(session, subject, {"n": n, "amount": "12.34"})
                ids.append(str(event_id))
    return ids


async def unpublished(db: Database) -> int:
    async with db.sessions() as session:
        q = sa.select(sa.func.count()).where(outbox_table.c.published_at.is_(None))
        return int((await session.execute(q)).scalar_one())


class CrashingPublisher:
    """Publishes for real, then 'crashes' (raises) after `crash_after` messages — the
    relay's transaction rolls back, as it would if the process died mid-batch."""

    def __init__(self, inner: Any, crash_after: int) -> None:
        self.inner = inner
        self.remaining = crash_after

    async def publish(self, subject: str, payload: bytes = b"", **kwargs: Any) -> Any:
        if self.remaining <= 0:
            raise ConnectionResetError("relay killed mid-batch")
        self.remaining -= 1
        return await self.inner.publish(subject, payload, **kwargs)


async def make_effects_table(url: str) -> None:
    await sql(url, "CREATE TABLE effects (message_id text, n int, delivered int)")


async def effects(db: Database) -> list[tuple[str, int]]:
    async with db.sessions() as session:
        rows = (await session.execute(sa.text("SELECT message_id, n FROM effects"))).all()
    return [(r[0], r[1]) for r in rows]


async def record_effect(session: AsyncSession, event: Event) -> None:
    await session.execute(
        sa.text("INSERT INTO effects VALUES (:m, :n, :d)"),
        {"m": event.message_id, "n": event.data["n"], "d": event.delivered},
    )


async def consume_until(consumer: Consumer, done: Any, timeout: float = 30) -> None:
    task = asyncio.create_task(consumer.run())
    try:
        async with asyncio.timeout(timeout):
            while not await done():
                await asyncio.sleep(0.1)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_relay_crash_mid_batch_and_redelivery_yield_exactly_once(
    db: Database, nc: Client, submission_db_url: str
) -> None:
    js = nc.jetstream()
    spec = unique_stream()
    await ensure_stream(js, spec)
    await ensure_stream(js, DEAD_LETTER)
    subject = spec.subjects[0].replace(">", "happened")
    ids = await write_events(db, subject, 300)

    # First relay run publishes 70 of a 100-row batch, then dies: nothing is marked.
    relay = OutboxRelay(db, CrashingPublisher(js, crash_after=70), batch_size=100)
    with pytest.raises(ConnectionResetError):
        await relay.publish_batch()
    assert await unpublished(db) == 300
    assert (await js.stream_info(spec.name)).state.messages == 70

    # A fresh relay re-publishes everything; the broker drops the 70 repeats by Nats-Msg-Id.
    relay = OutboxRelay(db, js, batch_size=100)
    while await relay.publish_batch():
        pass
    assert await unpublished(db) == 0
    assert (await js.stream_info(spec.name)).state.messages == 300

    # The consumer commits its side effect but 'loses' the ack of every third message on
    # first delivery, so JetStream redelivers them; the inbox must turn those into no-ops.
    await make_effects_table(submission_db_url)
    dropped: set[str] = set()

    class AckLosingConsumer(Consumer):
        async def process(self, msg: Msg) -> None:
            msg_id = (msg.headers or {})["Nats-Msg-Id"]
            if msg.metadata.num_delivered == 1 and int(msg_id[-1], 16) % 3 == 0:
                dropped.add(msg_id)

                async def no_ack() -> None:
                    return None

                msg.ack_sync = no_ack  # type: ignore[method-assign]
            await super().process(msg)

    consumer = AckLosingConsumer(
        db,
        js,
        stream=spec.name,
        durable="effects",
        filter_subject=spec.subjects[0],
        handler=record_effect,
        ack_wait_s=1.0,
    )

    async def all_redelivered() -> bool:
        try:
            info = await js.consumer_info(spec.name, "effects")
        except NotFoundError:
            return False
        return info.num_ack_pending == 0 and info.num_pending == 0 and len(await effects(db)) == 300

    await consume_until(consumer, all_redelivered)
    seen = await effects(db)
    assert dropped, "the test must actually drop some acks"
    assert sorted(m for m, _ in seen) == sorted(ids)
    assert sorted(n for _, n in seen) == list(range(300))
    consumed = {
        outcome: REGISTRY.get_sample_value(
            "messaging_consumed_messages_total", {"consumer": "effects", "outcome": outcome}
        )
        for outcome in ("processed", "duplicate")
    }
    assert consumed == {"processed": 300, "duplicate": len(dropped)}
    assert await dead_lettered(js, "effects") == 0


async def dead_lettered(js: Any, durable: str) -> int:
    info = await js.stream_info(DEAD_LETTER.name, subjects_filter=f"dlq.{durable}")
    return int((info.state.subjects or {}).get(f"dlq.{durable}", 0))


async def test_poison_message_goes_to_dead_letter_after_max_deliver(
    db: Database, nc: Client
) -> None:
    js = nc.jetstream()
    spec = unique_stream()
    await ensure_stream(js, spec)
    await ensure_stream(js, DEAD_LETTER)
    subject = spec.subjects[0].replace(">", "poison")
    await write_events(db, subject, 1)
    await OutboxRelay(db, js).publish_batch()
    attempts: list[int] = []

    async def always_fails(_: AsyncSession, event: Event) -> None:
        attempts.append(event.delivered)
        raise ValueError("cannot handle this")

    durable = f"poison_{uuid.uuid4().hex[:6]}"
    consumer = Consumer(
        db,
        js,
        stream=spec.name,
        durable=durable,
        filter_subject=spec.subjects[0],
        handler=always_fails,
        max_deliver=3,
        retry_delay_s=0.05,
    )

    async def parked() -> bool:
        return await dead_lettered(js, durable) == 1

    await consume_until(consumer, parked)
    assert attempts == [1, 2, 3]
    msg = await js.get_last_msg(DEAD_LETTER.name, f"dlq.{durable}")
    assert msg.headers is not None
    assert msg.headers["Mtd-Dlq-Error"] == "cannot handle this"
    assert msg.headers["Mtd-Dlq-Subject"] == subject


async def test_relay_process_killed_with_sigkill_then_restarted(
    db: Database, nc: Client, submission_db_url: str, nats_url: str
) -> None:
    js = nc.jetstream()
    spec = unique_stream()
    await ensure_stream(js, spec)
    subject = spec.subjects[0].replace(">", "happened")
    total = 3000
    await write_events(db, subject, total, per_tx=500)

    env = {**os.environ, "RELAY_DATABASE_URL": submission_db_url, "RELAY_NATS_URL": nats_url}
    cmd = [sys.executable, "-m", "tests.common.relay_process"]
    proc = subprocess.Popen(cmd, env=env)
    try:
        async with asyncio.timeout(30):
            while (await js.stream_info(spec.name)).state.messages == 0:
                await asyncio.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    published_before_kill = (await js.stream_info(spec.name)).state.messages
    marked_before_kill = total - await unpublished(db)

    proc = subprocess.Popen(cmd, env=env)
    try:
        async with asyncio.timeout(60):
            while await unpublished(db):
                await asyncio.sleep(0.05)
    finally:
        proc.terminate()
        proc.wait(10)
    assert published_before_kill < total or marked_before_kill < total
    assert (await js.stream_info(spec.name)).state.messages == total


async def test_consumer_span_is_child_of_the_publishing_request(
    db: Database, nc: Client, submission_db_url: str
) -> None:
    exporter = InMemorySpanExporter()
    telemetry.setup_tracing("tests", None, SimpleSpanProcessor(exporter))
    tracer = telemetry.get_tracer("tests")
    js = nc.jetstream()
    spec = unique_stream()
    await ensure_stream(js, spec)
    await make_effects_table(submission_db_url)
    subject = spec.subjects[0].replace(">", "traced")

    with tracer.start_as_current_span("POST /v1/things") as request_span:
        async with db.transaction() as session:
            await outbox.add(session, subject, {"n": 1})
    request_ctx = request_span.get_span_context()

    await OutboxRelay(db, js).publish_batch()
    consumer = Consumer(
        db,
        js,
        stream=spec.name,
        durable="traced",
        filter_subject=spec.subjects[0],
        handler=record_effect,
    )

    async def one_effect() -> bool:
        return len(await effects(db)) == 1

    await consume_until(consumer, one_effect)
    spans = exporter.get_finished_spans()
    producer = next(s for s in spans if s.kind == SpanKind.PRODUCER and s.name.startswith(subject))
    consumer_span = next(
        s for s in spans if s.kind == SpanKind.CONSUMER and s.name.startswith(subject)
    )
    assert producer.parent is not None and producer.parent.span_id == request_ctx.span_id
    assert producer.context.trace_id == request_ctx.trace_id
    assert consumer_span.parent is not None
    assert consumer_span.parent.span_id == producer.context.span_id
    assert consumer_span.context.trace_id == request_ctx.trace_id
    assert consumer_span.attributes["messaging.system"] == "nats"


async def test_relay_reports_backlog_and_published_counts(db: Database, nc: Client) -> None:
    js = nc.jetstream()
    spec = unique_stream()
    await ensure_stream(js, spec)
    await write_events(db, spec.subjects[0].replace(">", "counted"), 5)
    service = f"svc-{uuid.uuid4().hex[:6]}"
    relay = OutboxRelay(db, js, service=service, metrics_interval=0.05)

    def sample(name: str) -> float | None:
        return REGISTRY.get_sample_value(name, {"service": service})

    task = asyncio.create_task(relay.run())
    try:
        async with asyncio.timeout(10):
            while sample("outbox_published_events_total") != 5 or sample("outbox_backlog_events"):
                await asyncio.sleep(0.05)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert sample("outbox_oldest_event_age_seconds") == 0
