"""The rate governor against real PostgreSQL: several governors (as several replicas would)
share one budget, serve the most urgent call first, honour a global pause, and hand the
dispatcher role over when its holder goes away."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from services.hmrc_gateway.governor import Governor, GovernorTimeout, Priority
from tests.conftest import fresh_database

INTERVAL = 0.1  # 10 grants per second keeps the tests quick


@pytest.fixture
async def gov_db(pg_url: str) -> str:
    return await fresh_database(pg_url, "hmrc_gateway")


@contextlib.asynccontextmanager
async def running(url: str, replica: str, *, dispatch: bool = True) -> AsyncIterator[Governor]:
    gov = Governor(url, replica_id=replica, interval=INTERVAL, poll_interval=0.5, wait_timeout=20)
    tasks = [asyncio.create_task(gov.listen_forever())]
    if dispatch:
        tasks.append(asyncio.create_task(gov.dispatch_forever()))
    await asyncio.wait_for(gov.listening.wait(), 10)
    try:
        yield gov
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await gov.close()


async def wait_for_dispatcher(*govs: Governor) -> Governor:
    async with asyncio.timeout(10):
        while True:
            holders = [g for g in govs if g.is_dispatcher]
            if holders:
                assert len(holders) == 1
                return holders[0]
            await asyncio.sleep(0.02)


async def test_replicas_share_one_budget_and_one_dispatcher(gov_db: str) -> None:
    async with running(gov_db, "a") as a, running(gov_db, "b") as b:
        await wait_for_dispatcher(a, b)
        granted: list[float] = []
        loop = asyncio.get_running_loop()

        async def call(gov: Governor) -> None:
            await gov.acquire(Priority())
            granted.append(loop.time())

        await asyncio.gather(*(call(a if n % 2 else b) for n in range(20)))
        assert not (a.is_dispatcher and b.is_dispatcher)
    granted.sort()
    gaps = [later - earlier for earlier, later in itertools.pairwise(granted)]
    # Notification delivery adds jitter, but no window of one interval holds two grants
    # on average: 20 grants take at least 19 intervals.
    assert granted[-1] - granted[0] >= 19 * INTERVAL * 0.9
    assert min(gaps) > INTERVAL * 0.5


async def test_most_urgent_call_goes_first(gov_db: str) -> None:
    async with running(gov_db, "solo", dispatch=False) as gov:
        order: list[str] = []
        soon = datetime.now(UTC) + timedelta(days=1)
        later = soon + timedelta(days=30)
        calls = {
            "read": Priority(5),
            "due-later": Priority(1, later),
            "due-soon": Priority(1, soon),
            "urgent": Priority(0),
        }

        async def call(name: str) -> None:
            await gov.acquire(calls[name])
            order.append(name)

        # Queue everything before any dispatcher exists, then start one.
        tasks = [asyncio.create_task(call(name)) for name in calls]
        async with asyncio.timeout(10):
            while await gov.queue_depth() < len(calls):
                await asyncio.sleep(0.02)
        dispatcher = asyncio.create_task(gov.dispatch_forever())
        try:
            await asyncio.wait_for(asyncio.gather(*tasks), 10)
        finally:
            dispatcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await dispatcher
    assert order == ["urgent", "due-soon", "due-later", "read"]


async def test_pause_after_429_holds_every_replica(gov_db: str) -> None:
    async with running(gov_db, "a") as a, running(gov_db, "b") as b:
        await wait_for_dispatcher(a, b)
        await a.acquire(Priority())
        loop = asyncio.get_running_loop()
        await a.pause(1.0)
        started = loop.time()
        await b.acquire(Priority())
        assert loop.time() - started >= 0.9


async def test_dispatcher_role_moves_when_holder_stops(gov_db: str) -> None:
    async with running(gov_db, "b") as b:
        async with running(gov_db, "a") as a:
            first = await wait_for_dispatcher(a, b)
            await b.acquire(Priority())
        if first is a:
            # a's connection closed with it; b takes over within its lock retry.
            await wait_for_dispatcher(b)
        await asyncio.wait_for(b.acquire(Priority()), 10)


async def test_waiter_gives_up_and_its_row_goes(gov_db: str) -> None:
    async with running(gov_db, "lonely", dispatch=False) as gov:
        with pytest.raises(GovernorTimeout):
            await gov.acquire(Priority(), timeout=0.3)
        async with asyncio.timeout(5):
            while await gov.queue_depth():
                await asyncio.sleep(0.02)
