"""The tenant scope's cost per transaction: `python -m tests.tenancy.hook_timing [N]`.

Runs N one-statement transactions unscoped (the hook returns at once) and N acting for a
tenant (the hook adds one `set_config` round trip), on an embedded PostgreSQL or on
`DATABASE_URL`, and prints milliseconds per transaction for each and the difference.
A measurement, not a test: the figure depends on the machine's load.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import text

from services.common import migrations
from services.common.database import Database, with_database
from services.common.tenant_scope import acting_for
from tests.infra import postgres_server


async def _ms_per_txn(db: Database, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        async with db.transaction() as session:
            await session.execute(text("SELECT 1"))
    return (time.perf_counter() - start) * 1000 / n


async def measure(server_url: str, n: int) -> dict[str, float]:
    name = f"timing_{uuid.uuid4().hex[:8]}"
    await migrations.ensure_database(server_url, name)
    db = Database(with_database(server_url, name), pool_size=1, max_overflow=0)
    try:
        await _ms_per_txn(db, min(n, 200))  # warm the connection and statement caches
        unscoped = await _ms_per_txn(db, n)
        with acting_for(str(uuid.uuid4())):
            scoped = await _ms_per_txn(db, n)
    finally:
        await db.dispose()
    return {"unscoped": unscoped, "scoped": scoped, "hook": scoped - unscoped}


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    with tempfile.TemporaryDirectory() as workdir, postgres_server(Path(workdir)) as url:
        result = asyncio.run(measure(url, n))
    load = os.getloadavg()
    print(
        f"{n} txns: unscoped {result['unscoped']:.3f} ms/txn, scoped {result['scoped']:.3f}"
        f" ms/txn, hook {result['hook']:.3f} ms/txn"
        f" (load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f})"
    )


if __name__ == "__main__":
    main()
