from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.conftest import fresh_database
from tests.hmrc_sandbox.helpers import Simulator, start_simulator


@pytest.fixture(scope="session")
async def simulator_db(pg_url: str) -> str:
    return await fresh_database(pg_url, "hmrc_sandbox")


@pytest.fixture(scope="session")
async def simulator(simulator_db: str) -> AsyncIterator[Simulator]:
    """One simulator for the session; tests keep apart by using their own test users."""
    async with start_simulator(simulator_db) as sim:
        yield sim


@pytest.fixture
async def fresh_simulator(pg_url: str) -> AsyncIterator[Simulator]:
    """A simulator of its own (empty database) for tests that reset or restart it."""
    async with start_simulator(await fresh_database(pg_url, "hmrc_sandbox")) as sim:
        yield sim
