"""What the audit service's routes and workers share, and its database transactions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import sqlalchemy as sa
from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from services.audit.sealing import KeyWrapper
from services.audit.settings import AuditSettings
from services.common.database import Database
from services.common.service import Runtime


@dataclass
class AuditContext:
    settings: AuditSettings
    db: Database
    wrapper: KeyWrapper

    @classmethod
    def of(cls, runtime: Runtime) -> AuditContext:
        settings = runtime.settings
        assert isinstance(settings, AuditSettings)
        return cls(settings, runtime.database(), KeyWrapper(settings.keyring()))

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A transaction acting as the application role: INSERT and SELECT on the log, and
        the maintenance functions — never UPDATE or DELETE, whatever the login role is."""
        async with self.db.transaction() as session:
            if self.settings.db_role:
                # The name is validated by the settings pattern; identifiers cannot be bound.
                await session.execute(sa.text(f'SET LOCAL ROLE "{self.settings.db_role}"'))
            yield session


def context(request: Request) -> AuditContext:
    """FastAPI dependency."""
    ctx = getattr(request.app.state, "audit", None)
    if ctx is None:
        ctx = AuditContext.of(request.app.state.runtime)
        request.app.state.audit = ctx
    assert isinstance(ctx, AuditContext)
    return ctx
