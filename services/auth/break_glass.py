"""Break-glass access: a support user reads one tenant's data for a bounded time, only after
a tenant admin of that tenant (a person signed in with MFA) approved it.

A grant moves pending → approved | denied, and approved → revoked; an approved grant past
its end is expired. Under an approved grant the support user gets short-lived tokens
scoped to the tenant, read-only (role `break_glass`), carrying the grant id. Every request
made with one is checked and recorded here (`record_use`), in the same transaction as its
audit event, so a revocation stops the next request. Request, decisions, revocation, token
issue and each use are audit events in the tenant's audit log (decision 0075).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal, cast

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.auth import audit
from services.auth.context import AuthContext
from services.auth.models import BreakGlassGrant, BreakGlassUse
from services.auth.rbac import Role
from services.common.errors import ProblemError
from services.common.security.break_glass import GRANT_CLAIM, Use
from services.common.security.jwt_verify import Principal

TARGET = "break_glass_grant"
GrantStatus = Literal["pending", "approved", "denied", "revoked", "expired"]
MAX_USES_LISTED = 1000


def _person_with_mfa(principal: Principal, who: str) -> uuid.UUID:
    """The user id of a person signed in with a second factor; API clients never qualify."""
    if principal.kind != "user" or "mfa" not in principal.amr:
        raise ProblemError(
            403,
            "BREAK_GLASS_PERSON_REQUIRED",
            f"The {who} must be a person signed in with a second factor, not an API client.",
        )
    return uuid.UUID(principal.subject)


def status_of(grant: BreakGlassGrant, now: datetime | None = None) -> GrantStatus:
    ended = grant.expires_at is not None and grant.expires_at <= (now or datetime.now(UTC))
    if grant.status == "approved" and ended:
        return "expired"
    return cast(GrantStatus, grant.status)


def check_usable(grant: BreakGlassGrant | None, now: datetime) -> BreakGlassGrant:
    """The grant, if it allows access now; else the problem that says why not."""
    if grant is None:
        raise ProblemError(403, "BREAK_GLASS_NOT_APPROVED", "No such break-glass grant.")
    status = status_of(grant, now)
    if status == "expired":
        raise ProblemError(403, "BREAK_GLASS_EXPIRED", "The break-glass grant has expired.")
    if status == "revoked":
        raise ProblemError(
            403, "BREAK_GLASS_REVOKED", "A tenant admin revoked the break-glass grant."
        )
    if status != "approved":
        raise ProblemError(
            403,
            "BREAK_GLASS_NOT_APPROVED",
            f"The break-glass grant is {status}; a tenant admin must approve it first.",
        )
    return grant


async def request(
    ctx: AuthContext, principal: Principal, tenant_id: uuid.UUID, reason: str, minutes: int
) -> BreakGlassGrant:
    requester = _person_with_mfa(principal, "requester")
    seconds = minutes * 60
    limit = ctx.settings.break_glass_max_seconds
    if seconds > limit:
        raise ProblemError(
            422,
            "BREAK_GLASS_DURATION_TOO_LONG",
            f"Ask for at most {limit // 60} minutes of access.",
        )
    grant = BreakGlassGrant(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        requested_by=str(requester),
        reason=reason.strip(),
        duration_seconds=seconds,
        status="pending",
        requested_at=datetime.now(UTC),
    )
    async with ctx.db.transaction() as session:
        session.add(grant)
        await session.flush()
        await _record(session, "break_glass_requested", principal, grant, reason=grant.reason)
    return grant


async def _locked(
    session: AsyncSession, grant_id: uuid.UUID, tenant_id: uuid.UUID
) -> BreakGlassGrant:
    """The grant, row-locked, if it is `tenant_id`'s (another tenant's admin finds none)."""
    grant = await session.get(BreakGlassGrant, grant_id, with_for_update=True)
    if grant is None or grant.tenant_id != tenant_id:
        raise ProblemError(
            404, "BREAK_GLASS_GRANT_NOT_FOUND", f"No break-glass grant {grant_id} in this tenant."
        )
    return grant


def _own_tenant(principal: Principal) -> uuid.UUID:
    assert principal.tenant_id is not None  # tenant admins always belong to a tenant
    return uuid.UUID(principal.tenant_id)


async def decide(
    ctx: AuthContext, principal: Principal, grant_id: uuid.UUID, *, approve: bool
) -> BreakGlassGrant:
    """A tenant admin of the grant's tenant approves or denies a pending request."""
    approver = _person_with_mfa(principal, "approver")
    now = datetime.now(UTC)
    async with ctx.db.transaction() as session:
        grant = await _locked(session, grant_id, _own_tenant(principal))
        if grant.status != "pending":
            raise ProblemError(
                409,
                "BREAK_GLASS_ALREADY_DECIDED",
                f"The request was already {status_of(grant, now)}.",
            )
        grant.status = "approved" if approve else "denied"
        grant.decided_by, grant.decided_at = str(approver), now
        if approve:
            grant.expires_at = now + timedelta(seconds=grant.duration_seconds)
        action = "break_glass_approved" if approve else "break_glass_denied"
        await _record(session, action, principal, grant, expires_at=grant.expires_at)
    return grant


async def revoke(ctx: AuthContext, principal: Principal, grant_id: uuid.UUID) -> BreakGlassGrant:
    """Ends an approved grant now; its tokens stop working at their next request."""
    now = datetime.now(UTC)
    async with ctx.db.transaction() as session:
        grant = await _locked(session, grant_id, _own_tenant(principal))
        if status_of(grant, now) != "approved":
            raise ProblemError(
                409,
                "BREAK_GLASS_NOT_REVOCABLE",
                f"Only an approved, unexpired grant can be revoked; this one is "
                f"{status_of(grant, now)}.",
            )
        grant.status = "revoked"
        grant.revoked_by, grant.revoked_at = principal.subject, now
        await _record(session, "break_glass_revoked", principal, grant)
    return grant


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int
    grant: BreakGlassGrant


async def issue_token(ctx: AuthContext, principal: Principal, grant_id: uuid.UUID) -> IssuedToken:
    """A read-only token for the grant's tenant, for the support user who asked for it;
    it lives `break_glass_token_ttl_seconds`, never past the grant's end."""
    requester = _person_with_mfa(principal, "requester")
    now = datetime.now(UTC)
    async with ctx.db.transaction() as session:
        grant = await session.get(BreakGlassGrant, grant_id)
        if grant is None or grant.requested_by != str(requester):
            raise ProblemError(
                404, "BREAK_GLASS_GRANT_NOT_FOUND", f"You have no break-glass grant {grant_id}."
            )
        check_usable(grant, now)
        assert grant.expires_at is not None
        remaining = int((grant.expires_at - now).total_seconds())
        ttl = max(1, min(ctx.settings.break_glass_token_ttl_seconds, remaining))
        await _record(session, "break_glass_token_issued", principal, grant, expires_in=ttl)
    token = ctx.issuer.issue(
        subject=principal.subject,
        kind="user",
        tenant_id=grant.tenant_id,
        roles=[Role.BREAK_GLASS.value],
        ttl=ttl,
        extra={
            GRANT_CLAIM: str(grant.id),
            "amr": list(principal.amr),
            "auth_time": principal.claims.get("auth_time"),
            "mfa_time": principal.claims.get("mfa_time"),
        },
    )
    return IssuedToken(token, ttl, grant)


async def record_use(ctx: AuthContext, principal: Principal, use: Use) -> None:
    """Check the token's grant still allows access and record this use with its audit
    event; raises BREAK_GLASS_EXPIRED / _REVOKED / _NOT_APPROVED otherwise. Refused
    attempts under a real grant are recorded too: a revoked user still trying shows."""
    assert principal.grant_id is not None
    now = datetime.now(UTC)
    try:
        grant_id = uuid.UUID(principal.grant_id)
    except ValueError:
        raise ProblemError(403, "BREAK_GLASS_NOT_APPROVED", "No such break-glass grant.") from None
    refusal: ProblemError | None = None
    async with ctx.db.transaction() as session:
        grant = await session.get(BreakGlassGrant, grant_id)
        if (
            grant is None
            or str(grant.tenant_id) != principal.tenant_id
            or grant.requested_by != principal.subject
        ):
            raise ProblemError(
                403, "BREAK_GLASS_NOT_APPROVED", "The token matches no break-glass grant."
            )
        try:
            check_usable(grant, now)
        except ProblemError as exc:
            refusal = exc
        outcome = refusal.code if refusal else "BREAK_GLASS_READ_ONLY" if use.refused else None
        session.add(
            BreakGlassUse(
                id=uuid.uuid4(),
                grant_id=grant.id,
                tenant_id=grant.tenant_id,
                used_by=principal.subject,
                service=use.service,
                method=use.method,
                path=use.path,
                request_id=use.request_id,
                refusal=outcome,
                used_at=now,
            )
        )
        await _record(
            session,
            "break_glass_used",
            principal,
            grant,
            service=use.service,
            method=use.method,
            path=use.path,
            request_id=use.request_id,
            refusal=outcome,
        )
    if refusal is not None:
        raise refusal


class LocalGrantChecker:
    """The auth service's own requests: checked and recorded in-process."""

    service = "auth"

    def __init__(self, ctx: AuthContext) -> None:
        self.ctx = ctx

    async def record_use(self, principal: Principal, token: str, use: Use) -> None:
        await record_use(self.ctx, principal, use)


async def list_grants(
    ctx: AuthContext, principal: Principal, tenant_id: uuid.UUID | None
) -> list[BreakGlassGrant]:
    """A tenant's grants for its admins and auditors; support staff see their own."""
    query = sa.select(BreakGlassGrant).order_by(BreakGlassGrant.requested_at.desc())
    if principal.tenant_id is None:
        query = query.where(BreakGlassGrant.requested_by == principal.subject)
        if tenant_id is not None:
            query = query.where(BreakGlassGrant.tenant_id == tenant_id)
    else:
        query = query.where(BreakGlassGrant.tenant_id == _own_tenant(principal))
    async with ctx.db.sessions() as session:
        return list(await session.scalars(query))


async def get_grant(ctx: AuthContext, principal: Principal, grant_id: uuid.UUID) -> BreakGlassGrant:
    async with ctx.db.sessions() as session:
        grant = await session.get(BreakGlassGrant, grant_id)
    visible = grant is not None and (
        grant.requested_by == principal.subject
        if principal.tenant_id is None
        else str(grant.tenant_id) == principal.tenant_id
    )
    if grant is None or not visible:
        raise ProblemError(
            404, "BREAK_GLASS_GRANT_NOT_FOUND", f"No break-glass grant {grant_id} for you."
        )
    return grant


async def list_uses(
    ctx: AuthContext, principal: Principal, grant_id: uuid.UUID
) -> list[BreakGlassUse]:
    grant = await get_grant(ctx, principal, grant_id)
    async with ctx.db.sessions() as session:
        rows = await session.scalars(
            sa.select(BreakGlassUse)
            .where(BreakGlassUse.grant_id == grant.id)
            .order_by(BreakGlassUse.used_at)
            .limit(MAX_USES_LISTED)
        )
        return list(rows)


async def _record(
    session: AsyncSession, action: str, actor: Principal, grant: BreakGlassGrant, **details: object
) -> None:
    await audit.record(
        session,
        action,
        actor=actor,
        tenant_id=grant.tenant_id,
        target_type=TARGET,
        target_id=grant.id,
        details={"requested_by": grant.requested_by, **details},
    )
