"""Ingest: a redelivered event is stored once, an invalid one is dead-lettered without
holding up the rest, and secrets are masked again whatever the producer sent."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from typing import Any

import pytest
import sqlalchemy as sa
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from services.audit.context import AuditContext
from services.audit.ingest import AuditIngest
from services.audit.sealing import KeyWrapper
from services.audit.settings import AuditSettings
from services.common.database import Database
from services.common.messaging import streams
from services.common.messaging.tables import inbox
from tests.audit.conftest import (
    AuditApi,
    Publish,
    TokenMint,
    hmrc_exchange,
    make_settings,
    new_vrn,
    privileged_action,
)


async def dead_lettered(js: JetStreamContext, durable: str) -> int:
    info = await js.stream_info(streams.DEAD_LETTER.name, subjects_filter=f"dlq.{durable}")
    return int((info.state.subjects or {}).get(f"dlq.{durable}", 0))


async def test_redelivered_events_are_stored_once(
    audit_db_url: str, nats_url: str, mint: TokenMint, js: JetStreamContext, publish: Publish
) -> None:
    settings: AuditSettings = make_settings(
        audit_db_url, nats_url, mint.jwks_url, ingest_ack_wait_s=1.0, ingest_batch_size=20
    )
    assert settings.database_url is not None
    db = Database(settings.database_url.get_secret_value())
    ctx = AuditContext(settings, db, KeyWrapper(settings.keyring()))
    tenant, vrn = str(uuid.uuid4()), new_vrn()
    ids = [await publish("audit.hmrc.exchange", hmrc_exchange(tenant, vrn)) for _ in range(30)]
    dropped: set[str] = set()

    class AckLosingIngest(AuditIngest):
        """Commits, then 'loses' the ack of every other message on first delivery, so
        JetStream redelivers them after ack_wait."""

        async def process_batch(self, messages: Sequence[Msg]) -> None:
            for n, msg in enumerate(messages):
                if msg.metadata.num_delivered == 1 and n % 2 == 0:
                    dropped.add((msg.headers or {})["Nats-Msg-Id"])

                    async def no_ack() -> None:
                        return None

                    msg.ack = no_ack  # type: ignore[method-assign]
            await super().process_batch(messages)

    consumer = AckLosingIngest(ctx, js)
    task = asyncio.create_task(consumer.run())
    try:
        async with asyncio.timeout(30):
            while True:
                try:
                    info = await js.consumer_info(streams.AUDIT.name, settings.ingest_durable)
                except NotFoundError:
                    info = None
                # 30 first deliveries + 15 redeliveries of the messages whose ack was lost.
                settled = info and info.num_pending == 0 and info.num_ack_pending == 0
                if settled and info and info.delivered.consumer_seq >= 45:
                    break
                await asyncio.sleep(0.1)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    try:
        async with ctx.transaction() as session:
            stored = (
                (
                    await session.execute(
                        sa.text("SELECT message_id FROM audit_records ORDER BY seq")
                    )
                )
                .scalars()
                .all()
            )
            inbox_rows = (
                await session.execute(
                    sa.select(sa.func.count())
                    .select_from(inbox)
                    .where(inbox.c.consumer == settings.ingest_durable)
                )
            ).scalar_one()
    finally:
        await db.dispose()
    assert len(dropped) == 15
    assert sorted(stored) == sorted(ids)
    assert inbox_rows == 30
    assert await dead_lettered(js, settings.ingest_durable) == 0


async def test_invalid_event_is_dead_lettered_and_the_rest_are_stored(
    audit: AuditApi, publish: Publish, js: JetStreamContext
) -> None:
    tenant, vrn = str(uuid.uuid4()), new_vrn()
    await publish("audit.hmrc.exchange", hmrc_exchange(tenant, vrn))
    bad = hmrc_exchange(tenant, vrn)
    del bad["endpoint"]
    await publish("audit.hmrc.exchange", bad)
    await publish("audit.submission.accepted", {"tenant_id": tenant, "vrn": "not-a-vrn"})
    await publish("audit.auth.user_created", privileged_action(tenant))
    await audit.wait_for_records(2)
    durable = audit.settings.ingest_durable
    async with asyncio.timeout(20):
        while await dead_lettered(js, durable) < 2:
            await asyncio.sleep(0.05)
    msg = await js.get_last_msg(streams.DEAD_LETTER.name, f"dlq.{durable}")
    assert msg.headers is not None
    assert msg.headers["Mtd-Dlq-Subject"] == "audit.submission.accepted"
    assert "vrn" in msg.headers["Mtd-Dlq-Error"]
    assert await audit.record_count() == 2


async def test_secrets_are_masked_again_on_ingest(
    audit: AuditApi, publish: Publish, mint: TokenMint
) -> None:
    tenant, vrn = str(uuid.uuid4()), new_vrn()
    exchange = hmrc_exchange(
        tenant,
        vrn,
        method="POST",
        endpoint="submit_return",  # the gateway's endpoint name, not a path
        error="retry after token=abc123 failed",
    )
    exchange["path"] = f"/organisations/vat/{vrn}/returns"
    exchange["request_body"] = {"periodKey": "24A1", "client_secret": "s3cr3t-value"}
    exchange["response_headers"] = {"Set-Cookie": "session=xyz", "X-CorrelationId": "c-1"}
    await publish("audit.hmrc.exchange", exchange)
    await publish(
        "audit.auth.client_created",
        privileged_action(tenant, action="client_created", password="hunter2", name="Jo"),
    )
    await audit.wait_for_records(2)
    r = await audit.http.get(
        "/v1/audit/events", headers=mint.headers(["auditor"], tenant), params={"vrn": vrn}
    )
    assert r.status_code == 200, r.text
    [item] = r.json()["items"]
    headers: dict[str, Any] = item["personal"]["request_headers"]
    assert headers["Authorization"] == "***"
    assert headers["Gov-Client-Public-IP"] == "198.51.100.7"  # evidence, not a secret
    assert item["personal"]["response_headers"]["Set-Cookie"] == "***"
    assert item["body"]["request_body"] == {"periodKey": "24A1", "client_secret": "***"}
    assert item["error"] == "retry after token=*** failed"
    assert item["record_class"] == "vat_record"
    r = await audit.http.get(
        "/v1/audit/events",
        headers=mint.headers(["auditor"], tenant),
        params={"action": "client_created"},
    )
    [action] = r.json()["items"]
    assert action["personal"]["details"] == {"password": "***", "name": "Jo"}
    assert "hunter2" not in r.text and "s3cr3t" not in r.text and "abc123" not in r.text


async def test_ingest_rate_and_consumer_lag_are_metrics(audit: AuditApi, publish: Publish) -> None:
    tenant, vrn = str(uuid.uuid4()), new_vrn()
    for _ in range(5):
        await publish("audit.hmrc.exchange", hmrc_exchange(tenant, vrn))
    await audit.wait_for_records(5)
    durable = audit.settings.ingest_durable
    pending = f'messaging_consumer_pending_messages{{consumer="{durable}"}}'

    async def scrape() -> dict[str, float]:
        text = (await audit.http.get("/metrics")).text
        return {
            line.split(" ")[0]: float(line.split(" ")[1])
            for line in text.splitlines()
            if line.startswith(("audit_", "messaging_"))
        }

    # The lag is sampled between fetches; wait for a sample taken after the last ack.
    async with asyncio.timeout(15):
        while (samples := await scrape()).get(pending) != 0:
            await asyncio.sleep(audit.settings.lag_sample_interval_s)
    assert samples['audit_events_ingested_total{kind="hmrc_exchange"}'] >= 5
    processed = f'messaging_consumed_messages_total{{consumer="{durable}",outcome="processed"}}'
    assert samples[processed] >= 5
    assert samples["audit_ingest_delay_seconds_count"] >= 5
    assert samples["audit_chain_head_seq"] >= 5
