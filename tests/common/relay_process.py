"""A relay as its own process, so a test can SIGKILL it mid-batch."""

import asyncio
import os

from services.common.database import Database
from services.common.messaging.connection import connect
from services.common.messaging.outbox import OutboxRelay


async def main() -> None:
    db = Database(os.environ["RELAY_DATABASE_URL"])
    nc = await connect(os.environ["RELAY_NATS_URL"], name="relay-under-test")
    await OutboxRelay(db, nc.jetstream(), batch_size=100).run()


asyncio.run(main())
