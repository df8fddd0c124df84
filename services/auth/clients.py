"""API clients: OAuth2 client credentials. The secret is shown once, stored as an argon2
hash, and rotatable; after a rotation the old secret keeps working for a grace period so
a caller can switch without downtime."""

from __future__ import annotations

import contextlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from services.auth import audit, metrics
from services.auth.context import AuthContext
from services.auth.models import ApiClient
from services.auth.rbac import check_assignable
from services.common.errors import ProblemError
from services.common.security.jwt_verify import Principal


@dataclass(frozen=True)
class IssuedCredentials:
    client: ApiClient
    client_secret: str


def new_client_id() -> str:
    return "mtd_" + secrets.token_hex(10)


def new_client_secret() -> str:
    return secrets.token_urlsafe(32)


@metrics.counts_signup("api_client")
async def create_client(
    ctx: AuthContext,
    actor: Principal | None,
    *,
    tenant_id: uuid.UUID | None,
    name: str,
    roles: list[str],
    client_id: str | None = None,
    client_secret: str | None = None,
) -> IssuedCredentials:
    roles = check_assignable(roles, platform=tenant_id is None)
    secret = client_secret or new_client_secret()
    client = ApiClient(
        id=client_id or new_client_id(),
        tenant_id=tenant_id,
        name=name,
        roles=roles,
        secret_hash=await ctx.hasher.hash(secret),
    )
    async with ctx.db.transaction() as session:
        session.add(client)
        await session.flush()
        await audit.record(
            session,
            "client_created",
            actor=actor,
            tenant_id=tenant_id,
            target_type="api_client",
            target_id=client.id,
            details={"name": name, "roles": roles},
        )
    return IssuedCredentials(client, secret)


async def get_client(ctx: AuthContext, tenant_id: uuid.UUID, client_id: str) -> ApiClient:
    async with ctx.db.sessions() as session:
        client = await session.get(ApiClient, client_id)
    if client is None or client.tenant_id != tenant_id:
        raise ProblemError(404, "CLIENT_NOT_FOUND", f"No API client {client_id} in this tenant.")
    return client


async def list_clients(ctx: AuthContext, tenant_id: uuid.UUID) -> list[ApiClient]:
    async with ctx.db.sessions() as session:
        rows = await session.scalars(
            sa.select(ApiClient).where(ApiClient.tenant_id == tenant_id).order_by(ApiClient.name)
        )
        return list(rows)


async def rotate_secret(
    ctx: AuthContext, actor: Principal, tenant_id: uuid.UUID, client_id: str
) -> IssuedCredentials:
    await get_client(ctx, tenant_id, client_id)
    secret = new_client_secret()
    secret_hash = await ctx.hasher.hash(secret)
    now = datetime.now(UTC)
    grace = timedelta(seconds=ctx.settings.client_secret_grace_seconds)
    async with ctx.db.transaction() as session:
        client = await session.get(ApiClient, client_id, with_for_update=True)
        assert client is not None
        client.previous_secret_hash = client.secret_hash if grace else None
        client.previous_secret_expires_at = now + grace if grace else None
        client.secret_hash = secret_hash
        client.secret_rotated_at = now
        await audit.record(
            session,
            "client_secret_rotated",
            actor=actor,
            tenant_id=tenant_id,
            target_type="api_client",
            target_id=client_id,
            details={"previous_secret_valid_until": client.previous_secret_expires_at},
        )
    return IssuedCredentials(client, secret)


async def set_roles(
    ctx: AuthContext, actor: Principal, tenant_id: uuid.UUID, client_id: str, roles: list[str]
) -> ApiClient:
    roles = check_assignable(roles, platform=False)
    await get_client(ctx, tenant_id, client_id)
    async with ctx.db.transaction() as session:
        client = await session.get(ApiClient, client_id, with_for_update=True)
        assert client is not None
        before = list(client.roles)
        client.roles = roles
        await audit.record(
            session,
            "role_changed",
            actor=actor,
            tenant_id=tenant_id,
            target_type="api_client",
            target_id=client_id,
            details={"before": before, "after": roles},
        )
    return client


def _invalid_client() -> ProblemError:
    return ProblemError(401, "INVALID_CLIENT", "Unknown client or wrong client secret.")


async def authenticate(ctx: AuthContext, client_id: str, client_secret: str) -> ApiClient:
    """Check client credentials, throttled per client id (known or not)."""
    key = f"client:{client_id}"
    had_failures = await ctx.throttle.ensure_open(key)
    async with ctx.db.sessions() as session:
        client = await session.get(ApiClient, client_id)
    ok = await ctx.hasher.verify(client.secret_hash if client else None, client_secret)
    if not ok and client is not None and client.previous_secret_hash:
        expires = client.previous_secret_expires_at
        if expires is not None and expires > datetime.now(UTC):
            ok = await ctx.hasher.verify(client.previous_secret_hash, client_secret)
    if not ok or client is None:
        await ctx.throttle.failure(key)
        raise _invalid_client()
    await ctx.throttle.success(key, had_failures)
    if client.disabled:
        raise _invalid_client()
    return client


async def ensure_client(
    ctx: AuthContext, *, client_id: str, client_secret: str, name: str, roles: list[str]
) -> None:
    """Make a platform client exist with exactly this secret (start-up provisioning)."""
    async with ctx.db.sessions() as session:
        existing = await session.get(ApiClient, client_id)
    if existing is None:
        # Another replica may create it at the same moment.
        with contextlib.suppress(sa.exc.IntegrityError):
            await create_client(
                ctx,
                None,
                tenant_id=None,
                name=name,
                roles=roles,
                client_id=client_id,
                client_secret=client_secret,
            )
        return
    if existing.tenant_id is not None:
        raise RuntimeError(f"client {client_id} exists in a tenant; pick another id")
    if sorted(existing.roles) == sorted(roles) and await ctx.hasher.verify(
        existing.secret_hash, client_secret
    ):
        return
    secret_hash = await ctx.hasher.hash(client_secret)
    # A changed secret is a rotation: the platform service still holding the old one keeps
    # signing in for the grace period, until it has read its new secret.
    now = datetime.now(UTC)
    grace = timedelta(seconds=ctx.settings.client_secret_grace_seconds)
    async with ctx.db.transaction() as session:
        await session.execute(
            sa.update(ApiClient)
            .where(ApiClient.id == client_id)
            .values(
                secret_hash=secret_hash,
                roles=roles,
                previous_secret_hash=existing.secret_hash if grace else None,
                previous_secret_expires_at=now + grace if grace else None,
                secret_rotated_at=now,
            )
        )
        await audit.record(
            session,
            "client_secret_rotated",
            actor=None,
            tenant_id=None,
            target_type="api_client",
            target_id=client_id,
            details={"reason": "start-up provisioning"},
        )
