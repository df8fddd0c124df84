"""Brute-force protection for every secret check (client secrets, passwords, TOTP and
recovery codes), per identity. Unknown identities are counted the same way, so probing
for valid ones is throttled too and looks no different.

A failure is recorded in its own transaction, so it sticks even when the request fails.
After `max_failures` within the window the identity is locked; each further lockout
doubles in length until a success clears the record.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from services.auth import metrics
from services.auth.models import FailedAttempts
from services.auth.settings import AuthSettings
from services.common.database import Database
from services.common.errors import ProblemError


class Throttle:
    def __init__(self, db: Database, settings: AuthSettings) -> None:
        self.db = db
        self.max_failures = settings.max_failures
        self.window = timedelta(seconds=settings.failure_window_seconds)
        self.lockout = timedelta(seconds=settings.lockout_seconds)

    async def ensure_open(self, key: str) -> bool:
        """Raise 429 while `key` is locked; True when it has failures on record."""
        async with self.db.sessions() as session:
            locked_until = (
                await session.execute(
                    sa.select(FailedAttempts.locked_until).where(FailedAttempts.key == key)
                )
            ).one_or_none()
        if locked_until is None:
            return False
        now = datetime.now(UTC)
        if locked_until[0] is not None and locked_until[0] > now:
            retry_after = math.ceil((locked_until[0] - now).total_seconds())
            raise ProblemError(
                429,
                "TOO_MANY_ATTEMPTS",
                f"Too many wrong attempts; try again in {retry_after} seconds.",
                headers={"Retry-After": str(retry_after)},
            )
        return True

    async def failure(self, key: str) -> None:
        metrics.throttled_failure(key)
        now = datetime.now(UTC)
        table = FailedAttempts
        window_over = table.window_started_at < now - self.window
        upsert = (
            insert(table)
            .values(key=key, failures=1, window_started_at=now)
            .on_conflict_do_update(
                index_elements=[table.key],
                set_={
                    "failures": sa.case((window_over, 1), else_=table.failures + 1),
                    "window_started_at": sa.case((window_over, now), else_=table.window_started_at),
                },
            )
            .returning(table.failures, table.lockouts)
        )
        async with self.db.transaction() as session:
            failures, lockouts = (await session.execute(upsert)).one()
            if failures >= self.max_failures:
                await session.execute(
                    sa.update(table)
                    .where(table.key == key)
                    .values(
                        failures=0,
                        lockouts=lockouts + 1,
                        locked_until=now + self.lockout * (2 ** min(lockouts, 10)),
                    )
                )

    async def success(self, key: str, had_failures: bool) -> None:
        if not had_failures:
            return
        async with self.db.transaction() as session:
            await session.execute(sa.delete(FailedAttempts).where(FailedAttempts.key == key))
