"""Benchmark of the audit ingest: publish events to JetStream, time them into PostgreSQL.

    .venv/bin/python -m services.audit.bench [--events 20000] [--rate 1500 --seconds 20]

Phase 1 (backlog): N events are published first, then one consumer drains them; the rate
is events committed to the chain per second. Phase 2 (steady load): events are published
at a fixed rate while the consumer runs; it reports the consumer's backlog (pending
messages) and the publish-to-commit delay. Both run against durable PostgreSQL (fsync on)
and NATS with `sync_interval: always`, started embedded in a temporary directory unless
DATABASE_URL and NATS_URL are set (then the AUDIT stream there is purged: use a scratch
server). The consumer runs in this process, so in phase 2 it shares the CPU with the
publisher. The k6 deadline load test does not exist yet; phase 2 stands in for it.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from nats.js import JetStreamContext

from services.audit import chain, metrics
from services.audit.context import AuditContext
from services.audit.ingest import AuditIngest
from services.audit.models import records
from services.audit.sealing import KeyWrapper
from services.audit.settings import AuditSettings
from services.common import audit_events, jsonutil, migrations
from services.common.database import Database, with_database
from services.common.logging import configure_logging
from services.common.messaging import streams
from services.common.messaging.connection import connect, ensure_stream
from services.stack.embedded import EmbeddedNats, EmbeddedPostgres, free_port


def report(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


@contextlib.contextmanager
def servers() -> Iterator[tuple[str, str]]:
    if os.environ.get("DATABASE_URL") and os.environ.get("NATS_URL"):
        yield os.environ["DATABASE_URL"], os.environ["NATS_URL"]
        return
    with tempfile.TemporaryDirectory(prefix="audit-bench-") as tmp:
        pg = EmbeddedPostgres(Path(tmp) / "pg", free_port(), durable=True)
        nats = EmbeddedNats(Path(tmp) / "nats", free_port(), free_port())
        pg.start()
        nats.start()
        try:
            yield pg.url, nats.url
        finally:
            nats.stop()
            pg.stop(mode="immediate")


def event(tenants: list[str], vrns: dict[str, list[str]]) -> tuple[str, dict[str, Any]]:
    """A realistic mix: 60% HMRC exchanges, 30% state changes, 10% privileged actions."""
    tenant = random.choice(tenants)  # noqa: S311 - load generation, not security
    vrn = random.choice(vrns[tenant])  # noqa: S311
    now = datetime.now(UTC)
    roll = random.random()  # noqa: S311
    if roll < 0.6:
        e: audit_events.AuditEvent = audit_events.HmrcExchange(
            tenant_id=tenant,
            vrn=vrn,
            period_key="24A1",
            method="POST",
            endpoint="/organisations/vat/{vrn}/returns",
            path=f"/organisations/vat/{vrn}/returns",
            request_headers={
                "Authorization": "Bearer x",
                "Gov-Client-Connection-Method": "WEB_APP_VIA_SERVER",
                "Gov-Client-Public-IP": "198.51.100.7",
                "Gov-Client-Device-ID": str(uuid.uuid4()),
                "Gov-Client-User-IDs": "os=user",
                "Gov-Client-Timezone": "UTC+00:00",
                "Gov-Vendor-Version": "mtd-vat=1.0.0",
            },
            fraud_validation=audit_events.FraudValidation(result="valid"),
            request_body={"periodKey": "24A1", "vatDueSales": "105.50", "finalised": True},
            response_status=201,
            response_body={"formBundleNumber": "256660290587", "processingDate": now.isoformat()},
            correlation_id=str(uuid.uuid4()),
            started_at=now - timedelta(milliseconds=90),
            finished_at=now,
            duration_ms=90.0,
            trace_id=uuid.uuid4().hex,
            occurred_at=now,
        )
    elif roll < 0.9:
        e = audit_events.SubmissionStateChange(
            tenant_id=tenant,
            vrn=vrn,
            period_key="24A1",
            submission_id=str(uuid.uuid4()),
            from_state="queued",
            to_state="submitting",
            occurred_at=now,
        )
    else:
        e = audit_events.PrivilegedAction(
            action="role_changed",
            service="auth",
            occurred_at=now,
            actor=audit_events.Actor(kind="user", id=str(uuid.uuid4()), tenant_id=tenant),
            tenant_id=tenant,
            target=audit_events.Target(type="user", id=str(uuid.uuid4())),
            details={"roles": ["submitter"], "email": "someone@example.com"},
        )
    return audit_events.subject_for(e), audit_events.payload(e)


async def publish(js: JetStreamContext, n: int, tenants: list[str], vrns: Any) -> float:
    started = time.perf_counter()
    for start in range(0, n, 500):
        batch = [event(tenants, vrns) for _ in range(min(500, n - start))]
        await asyncio.gather(
            *(
                js.publish(
                    s, jsonutil.dumps(p).encode(), headers={"Nats-Msg-Id": str(uuid.uuid4())}
                )
                for s, p in batch
            )
        )
    return time.perf_counter() - started


def delay_totals() -> tuple[float, float]:
    samples = next(iter(metrics.INGEST_DELAY.collect())).samples
    count = next(s.value for s in samples if s.name.endswith("_count"))
    return count, next(s.value for s in samples if s.name.endswith("_sum"))


async def stored(ctx: AuditContext) -> int:
    async with ctx.transaction() as session:
        q = sa.select(sa.func.count()).select_from(records)
        return int((await session.execute(q)).scalar_one())


@contextlib.asynccontextmanager
async def consuming(ctx: AuditContext, js: JetStreamContext) -> AsyncIterator[None]:
    task = asyncio.create_task(AuditIngest(ctx, js).run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def main(args: argparse.Namespace) -> None:
    configure_logging("audit-bench", "WARNING")
    with servers() as (server_url, nats_url):
        name = f"audit_bench_{uuid.uuid4().hex[:8]}"
        await migrations.ensure_database(server_url, name)
        url = with_database(server_url, name)
        await asyncio.to_thread(migrations.upgrade, "audit", url)
        settings = AuditSettings(
            environment="test",
            database_url=url,
            nats_url=nats_url,
            auth_url="http://127.0.0.1:9",
            key_encryption_key=base64.b64encode(os.urandom(32)).decode(),
            ingest_batch_size=args.batch,
            ingest_durable=f"bench-{uuid.uuid4().hex[:6]}",
        )
        db = Database(url)
        ctx = AuditContext(settings, db, KeyWrapper(settings.keyring()))
        nc = await connect(nats_url, name="audit-bench")
        js = nc.jetstream()
        await ensure_stream(js, streams.AUDIT)
        await ensure_stream(js, streams.DEAD_LETTER)
        await js.purge_stream(streams.AUDIT.name)
        tenants = [str(uuid.uuid4()) for _ in range(50)]
        vrns = {
            t: [str(random.randint(100_000_000, 999_999_999)) for _ in range(10)]  # noqa: S311
            for t in tenants
        }
        try:
            # Phase 1: drain a backlog.
            took = await publish(js, args.events, tenants, vrns)
            report(f"published {args.events} events in {took:.2f}s ({args.events / took:.0f}/s)")
            started = time.perf_counter()
            async with consuming(ctx, js):
                while await stored(ctx) < args.events:  # noqa: ASYNC110 - polling PostgreSQL
                    await asyncio.sleep(0.05)
            took = time.perf_counter() - started
            report(
                f"backlog: {args.events} events into PostgreSQL in {took:.2f}s "
                f"= {args.events / took:.0f} events/s (batch {args.batch})"
            )

            # Phase 2: steady load at a fixed rate, sampling the consumer's backlog.
            if args.seconds > 0:
                pending: list[int] = []
                before = await stored(ctx)
                count0, sum0 = delay_totals()
                total = int(args.rate * args.seconds)
                async with consuming(ctx, js):

                    async def sample() -> None:
                        while True:
                            info = await js.consumer_info(
                                streams.AUDIT.name, settings.ingest_durable
                            )
                            pending.append(info.num_pending + info.num_ack_pending)
                            await asyncio.sleep(0.25)

                    sampler = asyncio.create_task(sample())
                    started = time.perf_counter()
                    sent = 0
                    while sent < total:
                        due = int((time.perf_counter() - started) * args.rate) - sent
                        if due > 0:
                            await publish(js, min(due, total - sent), tenants, vrns)
                            sent += min(due, total - sent)
                        await asyncio.sleep(0.01)
                    published_in = time.perf_counter() - started
                    while await stored(ctx) < before + total:  # noqa: ASYNC110
                        await asyncio.sleep(0.05)
                    finished_in = time.perf_counter() - started
                    sampler.cancel()
                count1, sum1 = delay_totals()
                mean_delay = (sum1 - sum0) / max(count1 - count0, 1)
                report(
                    f"steady: {total} events at {total / published_in:.0f}/s offered; "
                    f"all stored {finished_in - published_in:.2f}s after the last publish"
                )
                report(
                    f"consumer backlog (pending messages): max {max(pending or [0])}, "
                    f"median {statistics.median(pending or [0]):.0f}; "
                    f"mean publish-to-commit delay {mean_delay:.3f}s"
                )
            async with ctx.transaction() as session:
                t = time.perf_counter()
                result = await chain.verify(session)
                report(
                    f"verify: ok={result.ok} over {result.records_checked} records "
                    f"in {time.perf_counter() - t:.2f}s"
                )
        finally:
            await nc.close()
            await db.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--rate", type=float, default=1500.0, help="phase 2 events/s")
    parser.add_argument("--seconds", type=float, default=20.0, help="phase 2 duration")
    asyncio.run(main(parser.parse_args()))
