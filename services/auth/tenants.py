"""Tenants: the organisations that use the platform (a bridging-software vendor, a practice)."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from services.auth import audit, metrics
from services.auth.models import Tenant
from services.common.database import Database
from services.common.errors import ProblemError
from services.common.security.jwt_verify import Principal


@metrics.counts_signup("tenant")
async def create_tenant(db: Database, actor: Principal, name: str) -> Tenant:
    tenant = Tenant(id=uuid.uuid4(), name=name.strip())
    try:
        async with db.transaction() as session:
            session.add(tenant)
            await session.flush()
            await audit.record(
                session,
                "tenant_created",
                actor=actor,
                tenant_id=tenant.id,
                target_type="tenant",
                target_id=tenant.id,
                details={"name": tenant.name},
            )
    except IntegrityError:
        raise ProblemError(409, "TENANT_EXISTS", f"A tenant named {name!r} exists.") from None
    return tenant


async def get_tenant(db: Database, tenant_id: uuid.UUID) -> Tenant:
    async with db.sessions() as session:
        tenant = await session.get(Tenant, tenant_id)
    if tenant is None:
        raise ProblemError(404, "TENANT_NOT_FOUND", f"No tenant {tenant_id}.")
    return tenant


async def require_tenant(db: Database, tenant_id: uuid.UUID) -> None:
    async with db.sessions() as session:
        found = await session.scalar(sa.select(Tenant.id).where(Tenant.id == tenant_id))
    if found is None:
        raise ProblemError(404, "TENANT_NOT_FOUND", f"No tenant {tenant_id}.")
