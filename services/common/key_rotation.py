"""Shared steps of a KEK rotation command (`keys rewrap` / `keys retire` in auth and audit)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession


async def keyset_batches(
    transaction: Callable[[], AbstractAsyncContextManager[AsyncSession]],
    query: sa.Select[Any],
    key: sa.ColumnElement[Any],
    batch_size: int,
    pause: float = 0.0,
) -> AsyncIterator[tuple[AsyncSession, Sequence[sa.Row[Any]]]]:
    """`query` (whose first column is `key`) page by page, each page in its own short
    transaction so a rotation never holds locks across the whole table. The caller works
    on a page inside the yielded session; it commits when the caller asks for the next
    page, which comes `pause` seconds later."""
    after: Any = None
    while True:
        async with transaction() as session:
            page = query.order_by(key).limit(batch_size)
            if after is not None:
                page = page.where(key > after)
            rows = (await session.execute(page)).all()
            yield session, rows
        if len(rows) < batch_size:
            return
        after = rows[-1][0]
        if pause:
            await asyncio.sleep(pause)  # leave room for the service's own transactions


def retire_refusal(kid: str, current: str, still_wrapped: int, what: str) -> str | None:
    """Why `keys retire KID` must refuse (the current KEK, or one still in use), or None."""
    if kid == current:
        return f"refused: {kid} is the current KEK"
    if still_wrapped:
        return (
            f"refused: {still_wrapped} {what} are still wrapped by {kid}; run `keys rewrap` first"
        )
    return None
