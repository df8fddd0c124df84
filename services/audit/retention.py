"""Retention per record class: content older than its class's period is cleared by the
privileged `audit_prune_records` function (chain columns stay, so `verify` still passes);
raw HMRC bodies go after a much shorter period through `audit_drop_bodies`."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from services.audit.context import AuditContext
from services.common.logging import get_logger
from services.common.tasks import raise_if_cancelling

log = get_logger(__name__)


async def apply(ctx: AuditContext, now: datetime | None = None) -> dict[str, int]:
    """Prune what is due at `now`; returns records pruned per class and bodies dropped."""
    now = now or datetime.now(UTC)
    done: dict[str, int] = {}
    for record_class, days in ctx.settings.retention_days().items():
        async with ctx.transaction() as session:
            done[record_class] = int(
                (
                    await session.execute(
                        sa.select(
                            sa.func.audit_prune_records(record_class, now - timedelta(days=days))
                        )
                    )
                ).scalar_one()
            )
    cutoff = now - timedelta(days=ctx.settings.retention_raw_body_days)
    async with ctx.transaction() as session:
        done["raw_body"] = int(
            (await session.execute(sa.select(sa.func.audit_drop_bodies(cutoff)))).scalar_one()
        )
    return done


async def run(ctx: AuditContext) -> None:
    while True:
        raise_if_cancelling()
        try:
            done = await apply(ctx)
            if any(done.values()):
                log.info("audit retention applied", **done)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise_if_cancelling()
            log.warning("audit retention failed; will retry", error=str(exc))
        await asyncio.sleep(ctx.settings.retention_interval_s)
