"""The submission service's background work: worker tasks and the sweeper.

Workers look at PostgreSQL when a `submission.queued` message rings (JetStream messages
also reach plain subscribers) and otherwise every `poll_seconds`, so a lost message only
costs a little latency and losing NATS entirely loses no return. One ring wakes one idle
worker: a busy worker claims again as soon as it finishes, so waking every idle worker for
each queued return would only add claim queries that find nothing.
"""

from __future__ import annotations

import asyncio
import os
import socket
from contextlib import suppress
from datetime import timedelta

from services.common.logging import get_logger
from services.common.service import Runtime
from services.common.tasks import raise_if_cancelling
from services.submission import metrics, sweeper
from services.submission.gateway_client import GatewayClient
from services.submission.settings import SubmissionSettings
from services.submission.worker import SendGate, Worker

log = get_logger(__name__)


def replica_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


async def run_workers(runtime: Runtime, hmrc: GatewayClient) -> None:
    settings = runtime.settings
    assert isinstance(settings, SubmissionSettings)
    if settings.workers == 0:
        return
    db = runtime.database()
    wake = Doorbell()
    if runtime.nc is not None:

        async def ring(_: object) -> None:
            wake.ring()

        await runtime.nc.subscribe("submission.queued", cb=ring)
    gate = SendGate()
    workers = [
        Worker(db, hmrc, f"{replica_name()}-{n}", renew_every=settings.renew_seconds, gate=gate)
        for n in range(settings.workers)
    ]
    await asyncio.gather(*(work(w, wake, settings.poll_seconds) for w in workers))


class Doorbell:
    """Each ring wakes at most one waiter; a ring with nobody waiting is not kept."""

    def __init__(self) -> None:
        self._waiters: list[asyncio.Future[None]] = []

    def ring(self) -> None:
        while self._waiters:
            waiter = self._waiters.pop(0)
            if not waiter.done():
                waiter.set_result(None)
                return

    async def wait(self, timeout: float) -> None:
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            with suppress(TimeoutError):
                await asyncio.wait_for(waiter, timeout)
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)


async def work(worker: Worker, wake: Doorbell, poll_seconds: float) -> None:
    while True:
        raise_if_cancelling()
        try:
            busy = await worker.run_once()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise_if_cancelling()
            log.warning("worker step failed; retrying", worker=worker.name, error=str(exc))
            busy = False
        if not busy:
            # Sends held back by the gate: look again the moment it opens.
            closed = worker.gate.remaining()
            await wake.wait(min(poll_seconds, closed) if closed > 0 else poll_seconds)


async def run_sweeper(runtime: Runtime) -> None:
    settings = runtime.settings
    assert isinstance(settings, SubmissionSettings)
    lease = timedelta(seconds=settings.lease_seconds)
    while True:
        raise_if_cancelling()
        try:
            recovered = await sweeper.sweep(runtime.database(), lease)
            if recovered:
                log.warning("stale claims sent to reconciliation", count=recovered)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise_if_cancelling()
            log.warning("sweep failed; retrying", error=str(exc))
        await asyncio.sleep(min(settings.lease_seconds / 4, 30.0))


async def sample_metrics(runtime: Runtime) -> None:
    """The queue's depth, oldest age and deadline risk, as PostgreSQL knows them."""
    while True:
        raise_if_cancelling()
        try:
            async with runtime.database().sessions() as session:
                await metrics.sample_queue(session)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise_if_cancelling()
            log.warning("queue metrics not sampled", error=str(exc))
        await asyncio.sleep(15)
