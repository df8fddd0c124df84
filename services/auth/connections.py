"""HMRC connections: a tenant's OAuth grant for one VRN.

`start` records a single-use `state` (SHA-256 stored, 10-minute life, bound to the tenant
and the requesting identity) and a PKCE verifier (encrypted), and returns HMRC's authorize
URL. `complete` consumes the state exactly once, exchanges the code and stores the tokens
envelope-encrypted. `access_token` hands the gateway a valid token, refreshing it when
needed under a per-connection lock: HMRC refresh tokens are single-use, so two concurrent
refreshes would destroy the grant.
"""

from __future__ import annotations

import asyncio
import calendar
import re
import secrets
import uuid
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from services.auth import audit, metrics
from services.auth.context import AuthContext
from services.auth.hashing import sha256_hex
from services.auth.hmrc_oauth import HmrcOAuthError, HmrcTokens, HmrcUnavailable, pkce_pair
from services.auth.models import HmrcConnection, OAuthState
from services.auth.sealed import token_context, verifier_context
from services.common.errors import ProblemError
from services.common.logging import get_logger
from services.common.security.jwt_verify import Principal

log = get_logger(__name__)

VRN = re.compile(r"^\d{9}$")
GRANT_MONTHS = 18

PENDING, ACTIVE, NEEDS_REAUTH, REVOKED = "pending", "active", "needs_reauthorisation", "revoked"
EXPIRING_SOON = "expiring_soon"


def add_months(moment: datetime, months: int) -> datetime:
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def display_status(connection: HmrcConnection, now: datetime, soon: timedelta) -> str:
    if connection.status != ACTIVE:
        return connection.status
    if connection.grant_expires_at is not None:
        if connection.grant_expires_at <= now:
            return NEEDS_REAUTH
        if connection.grant_expires_at - now <= soon:
            return EXPIRING_SOON
    return ACTIVE


def reconnect_hint(vrn: str) -> str:
    return (
        f"A user of this tenant with the tenant_admin or submitter role must reconnect VRN "
        f'{vrn}: POST /v1/connections with {{"vrn": "{vrn}"}} and complete HMRC\'s '
        f"sign-in and consent at the returned authorize_url."
    )


@dataclass(frozen=True)
class Started:
    connection: HmrcConnection
    authorize_url: str
    state_expires_at: datetime


async def start(ctx: AuthContext, principal: Principal, vrn: str, request_base_url: str) -> Started:
    if principal.tenant_id is None:
        raise ProblemError(403, "FORBIDDEN", "HMRC connections belong to a tenant.")
    if not VRN.match(vrn):
        raise ProblemError(422, "VRN_INVALID", "A VRN is nine digits.")
    tenant_id = uuid.UUID(principal.tenant_id)
    state = secrets.token_urlsafe(32)
    state_hash = sha256_hex(state)
    verifier, challenge = pkce_pair()
    redirect_uri = ctx.settings.callback_url(request_base_url)
    now = datetime.now(UTC)
    expires_at = now + timedelta(seconds=ctx.settings.oauth_state_ttl_seconds)
    async with ctx.db.transaction() as session:
        # One live connection per (tenant, VRN): a new request re-authorises the same one.
        await session.execute(
            sa.text("SELECT pg_advisory_xact_lock(hashtext(:k))"),
            {"k": f"connection:{tenant_id}:{vrn}"},
        )
        connection = await session.scalar(
            sa.select(HmrcConnection).where(
                HmrcConnection.tenant_id == tenant_id,
                HmrcConnection.vrn == vrn,
                HmrcConnection.status != REVOKED,
            )
        )
        if connection is None:
            connection = HmrcConnection(
                id=uuid.uuid4(),
                tenant_id=tenant_id,
                vrn=vrn,
                status=PENDING,
                created_by=principal.subject,
                scopes=[],
            )
            session.add(connection)
            await session.flush()
        session.add(
            OAuthState(
                state_hash=state_hash,
                connection_id=connection.id,
                tenant_id=tenant_id,
                subject=principal.subject,
                code_verifier_enc=ctx.keys.envelope.encrypt(verifier, verifier_context(state_hash)),
                redirect_uri=redirect_uri,
                expires_at=expires_at,
            )
        )
        await audit.record(
            session,
            "connection_requested",
            actor=principal,
            tenant_id=tenant_id,
            target_type="hmrc_connection",
            target_id=connection.id,
            details={"vrn": vrn},
        )
    url = ctx.hmrc.authorize_url(state=state, code_challenge=challenge, redirect_uri=redirect_uri)
    return Started(connection, url, expires_at)


class CallbackError(ProblemError):
    """A callback that cannot complete; `vrn` lets the page say which connection failed."""

    def __init__(self, status: int, code: str, detail: str, vrn: str | None = None) -> None:
        super().__init__(status, code, detail)
        self.vrn = vrn


async def _consume_state(ctx: AuthContext, state: str) -> tuple[OAuthState, str]:
    """Mark `state` used (exactly once, committed before anything else happens)."""
    state_hash = sha256_hex(state)
    now = datetime.now(UTC)
    async with ctx.db.transaction() as session:
        row = (
            await session.execute(
                sa.update(OAuthState)
                .where(OAuthState.state_hash == state_hash, OAuthState.used_at.is_(None))
                .values(used_at=now)
                .returning(OAuthState)
            )
        ).scalar_one_or_none()
        if row is None:
            used = await session.scalar(
                sa.select(OAuthState.used_at).where(OAuthState.state_hash == state_hash)
            )
            if used is not None:
                raise CallbackError(
                    400,
                    "OAUTH_STATE_REPLAYED",
                    "This HMRC sign-in was already completed or abandoned; its link works "
                    "once. Start a new connection: POST /v1/connections.",
                )
            raise CallbackError(
                400,
                "OAUTH_STATE_INVALID",
                "This callback does not match any connection request. Start a new "
                "connection: POST /v1/connections.",
            )
        vrn = await session.scalar(
            sa.select(HmrcConnection.vrn).where(HmrcConnection.id == row.connection_id)
        )
    if row.expires_at <= now:
        raise CallbackError(
            400,
            "OAUTH_STATE_EXPIRED",
            f"The HMRC sign-in took longer than {ctx.settings.oauth_state_ttl_seconds // 60} "
            "minutes. Start a new connection: POST /v1/connections.",
            vrn,
        )
    return row, str(vrn)


@metrics.counts_authorisation
async def complete(
    ctx: AuthContext,
    *,
    state: str | None,
    code: str | None,
    error: str | None,
    error_description: str | None,
) -> HmrcConnection:
    if not state:
        raise CallbackError(
            400,
            "OAUTH_STATE_INVALID",
            "The callback has no state; start a connection with POST /v1/connections.",
        )
    row, vrn = await _consume_state(ctx, state)
    if error:
        if error == "access_denied":
            raise CallbackError(
                400,
                "HMRC_CONSENT_DENIED",
                f"Access to VRN {vrn} was declined on HMRC's consent page, so nothing was "
                "connected. To connect it, start again and choose to grant authority.",
                vrn,
            )
        raise CallbackError(
            400,
            "HMRC_AUTHORIZATION_FAILED",
            f"HMRC refused the authorization ({error}: {error_description or 'no detail'}). "
            "Start a new connection: POST /v1/connections.",
            vrn,
        )
    if not code:
        raise CallbackError(400, "OAUTH_CODE_MISSING", "HMRC's callback carried no code.", vrn)
    verifier = ctx.keys.envelope.decrypt(row.code_verifier_enc, verifier_context(row.state_hash))
    try:
        tokens = await ctx.hmrc.exchange_code(
            code=code, verifier=verifier, redirect_uri=row.redirect_uri
        )
    except HmrcOAuthError as exc:
        raise CallbackError(
            400,
            "HMRC_CODE_EXCHANGE_FAILED",
            f"HMRC did not accept the authorization code ({exc.error}: {exc.description}). "
            "Start a new connection: POST /v1/connections.",
            vrn,
        ) from None
    except HmrcUnavailable as exc:
        raise CallbackError(
            503, "HMRC_UNAVAILABLE", f"{exc}. Try connecting again shortly.", vrn
        ) from None
    return await _store_grant(ctx, row, tokens)


async def _store_grant(ctx: AuthContext, row: OAuthState, tokens: HmrcTokens) -> HmrcConnection:
    now = datetime.now(UTC)
    async with ctx.db.transaction() as session:
        connection = await session.get(HmrcConnection, row.connection_id, with_for_update=True)
        if connection is None or connection.status == REVOKED:
            raise CallbackError(
                409,
                "HMRC_CONNECTION_REVOKED",
                "The connection was revoked while HMRC sign-in was in progress.",
            )
        _set_tokens(ctx, connection, tokens, now)
        connection.status = ACTIVE
        connection.granted_by = row.subject
        connection.granted_at = now
        connection.grant_expires_at = add_months(now, GRANT_MONTHS)
        connection.refresh_count = 0
        connection.last_error = None
        await audit.record(
            session,
            "connection_created",
            actor=None,
            tenant_id=connection.tenant_id,
            target_type="hmrc_connection",
            target_id=connection.id,
            details={
                "vrn": connection.vrn,
                "granted_by": row.subject,
                "scopes": connection.scopes,
                "grant_expires_at": connection.grant_expires_at,
            },
        )
    return connection


def _set_tokens(
    ctx: AuthContext, connection: HmrcConnection, tokens: HmrcTokens, now: datetime
) -> None:
    envelope = ctx.keys.envelope
    connection.access_token_enc = envelope.encrypt(
        tokens.access_token, token_context(connection.id, "access_token")
    )
    connection.refresh_token_enc = envelope.encrypt(
        tokens.refresh_token, token_context(connection.id, "refresh_token")
    )
    connection.access_expires_at = now + timedelta(seconds=tokens.expires_in)
    if tokens.scopes is not None:
        connection.scopes = tokens.scopes
    elif not connection.scopes:
        connection.scopes = ctx.settings.hmrc_scopes.split()
    connection.updated_at = now


async def list_connections(ctx: AuthContext, tenant_id: uuid.UUID) -> list[dict[str, Any]]:
    async with ctx.db.sessions() as session:
        rows = list(
            await session.scalars(
                sa.select(HmrcConnection)
                .where(HmrcConnection.tenant_id == tenant_id)
                .order_by(HmrcConnection.vrn, HmrcConnection.created_at)
            )
        )
    return [view(ctx, c) for c in rows]


def view(ctx: AuthContext, connection: HmrcConnection) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "id": str(connection.id),
        "vrn": connection.vrn,
        "status": display_status(connection, now, timedelta(days=ctx.settings.expiring_soon_days)),
        "scopes": connection.scopes,
        "granted_at": connection.granted_at,
        "grant_expires_at": connection.grant_expires_at,
        "granted_by": connection.granted_by,
        "revoked_at": connection.revoked_at,
        "last_error": connection.last_error,
    }


async def revoke(
    ctx: AuthContext, principal: Principal, tenant_id: uuid.UUID, connection_id: uuid.UUID
) -> HmrcConnection:
    now = datetime.now(UTC)
    async with ctx.db.transaction() as session:
        connection = await session.get(HmrcConnection, connection_id, with_for_update=True)
        if connection is None or connection.tenant_id != tenant_id:
            raise ProblemError(404, "HMRC_CONNECTION_NOT_FOUND", "No such connection here.")
        if connection.status == REVOKED:
            return connection
        connection.status = REVOKED
        connection.revoked_at = now
        connection.updated_at = now
        # Nothing to use after revocation is kept.
        connection.access_token_enc = connection.refresh_token_enc = None
        connection.access_expires_at = None
        await session.execute(
            sa.delete(OAuthState).where(OAuthState.connection_id == connection_id)
        )
        await audit.record(
            session,
            "connection_revoked",
            actor=principal,
            tenant_id=tenant_id,
            target_type="hmrc_connection",
            target_id=connection_id,
            details={"vrn": connection.vrn},
        )
    return connection


# ---------------------------------------------------------------------------------------
# Access tokens for the gateway


@dataclass(frozen=True)
class AccessToken:
    connection_id: uuid.UUID
    access_token: str
    expires_at: datetime
    scopes: list[str]
    refreshed: bool


# One asyncio lock per connection in this process; the database row lock covers replicas.
# The in-process lock keeps fifty waiters from holding fifty database connections.
_locks: weakref.WeakValueDictionary[uuid.UUID, asyncio.Lock] = weakref.WeakValueDictionary()


def _lock_for(connection_id: uuid.UUID) -> asyncio.Lock:
    lock = _locks.get(connection_id)
    if lock is None:
        lock = asyncio.Lock()
        _locks[connection_id] = lock
    return lock


async def _find(ctx: AuthContext, tenant_id: uuid.UUID, vrn: str) -> HmrcConnection:
    async with ctx.db.sessions() as session:
        connection = await session.scalar(
            sa.select(HmrcConnection)
            .where(HmrcConnection.tenant_id == tenant_id, HmrcConnection.vrn == vrn)
            .order_by(HmrcConnection.created_at.desc())
            .limit(1)
        )
    if connection is None:
        raise ProblemError(
            404,
            "HMRC_CONNECTION_NOT_FOUND",
            f"Tenant {tenant_id} has no HMRC connection for VRN {vrn}. " + reconnect_hint(vrn),
        )
    return connection


def _usable(connection: HmrcConnection, now: datetime, margin: timedelta) -> bool:
    return (
        connection.status == ACTIVE
        and connection.access_token_enc is not None
        and connection.access_expires_at is not None
        and connection.access_expires_at - margin > now
    )


def _refuse(connection: HmrcConnection) -> ProblemError:
    if connection.status == REVOKED:
        return ProblemError(
            409,
            "HMRC_CONNECTION_REVOKED",
            f"The HMRC connection for VRN {connection.vrn} was revoked. "
            + reconnect_hint(connection.vrn),
        )
    if connection.status == PENDING:
        return ProblemError(
            409,
            "HMRC_CONNECTION_PENDING",
            f"HMRC access for VRN {connection.vrn} was requested but never granted. "
            + reconnect_hint(connection.vrn),
        )
    return ProblemError(
        409,
        "HMRC_REAUTHORISATION_REQUIRED",
        f"HMRC no longer accepts this platform's grant for VRN {connection.vrn}. "
        + reconnect_hint(connection.vrn),
    )


def _issued(ctx: AuthContext, connection: HmrcConnection, refreshed: bool) -> AccessToken:
    assert connection.access_token_enc is not None
    assert connection.access_expires_at is not None
    return AccessToken(
        connection_id=connection.id,
        access_token=ctx.keys.envelope.decrypt(
            connection.access_token_enc, token_context(connection.id, "access_token")
        ),
        expires_at=connection.access_expires_at,
        scopes=list(connection.scopes),
        refreshed=refreshed,
    )


async def access_token(ctx: AuthContext, tenant_id: uuid.UUID, vrn: str) -> AccessToken:
    margin = timedelta(seconds=ctx.settings.refresh_margin_seconds)
    connection = await _find(ctx, tenant_id, vrn)
    if _usable(connection, datetime.now(UTC), margin):
        return _issued(ctx, connection, refreshed=False)
    if connection.status != ACTIVE:
        raise _refuse(connection)
    async with _lock_for(connection.id):
        return await _refresh_locked(ctx, connection.id, margin)


async def _refresh_locked(
    ctx: AuthContext, connection_id: uuid.UUID, margin: timedelta
) -> AccessToken:
    reauth_needed: HmrcConnection | None = None
    async with ctx.db.transaction() as session:
        connection = await session.get(
            HmrcConnection, connection_id, with_for_update=True, populate_existing=True
        )
        assert connection is not None
        now = datetime.now(UTC)
        # Whoever held the lock before us may have refreshed already.
        if _usable(connection, now, margin):
            return _issued(ctx, connection, refreshed=False)
        if connection.status != ACTIVE:
            raise _refuse(connection)
        if connection.grant_expires_at is not None and connection.grant_expires_at <= now:
            reauth_needed = _mark_needs_reauth(connection, "the 18-month grant has ended", now)
        else:
            assert connection.refresh_token_enc is not None
            refresh_token = ctx.keys.envelope.decrypt(
                connection.refresh_token_enc, token_context(connection.id, "refresh_token")
            )
            try:
                # The row stays locked during the call: no replica can refresh alongside.
                tokens = await ctx.hmrc.refresh(refresh_token)
            except HmrcOAuthError as exc:
                if exc.error != "invalid_grant":
                    log.warning(
                        "hmrc refresh refused", connection_id=str(connection_id), error=exc.error
                    )
                    raise ProblemError(
                        502,
                        "HMRC_REFRESH_FAILED",
                        f"HMRC refused to refresh the token for VRN {connection.vrn} "
                        f"({exc.error}). Try again shortly.",
                    ) from None
                reauth_needed = _mark_needs_reauth(
                    connection, f"HMRC answered invalid_grant: {exc.description}", now
                )
            except HmrcUnavailable as exc:
                raise ProblemError(
                    503,
                    "HMRC_UNAVAILABLE",
                    f"{exc}; the token for VRN {connection.vrn} could not be refreshed now.",
                    headers={"Retry-After": "5"},
                ) from None
            else:
                _set_tokens(ctx, connection, tokens, now)
                connection.refreshed_at = now
                connection.refresh_count += 1
                connection.last_error = None
                return _issued(ctx, connection, refreshed=True)
        await audit.record(
            session,
            "connection_needs_reauthorisation",
            actor=None,
            tenant_id=connection.tenant_id,
            target_type="hmrc_connection",
            target_id=connection.id,
            details={"vrn": connection.vrn, "reason": connection.last_error},
        )
    raise _refuse(reauth_needed)


def _mark_needs_reauth(connection: HmrcConnection, reason: str, now: datetime) -> HmrcConnection:
    connection.status = NEEDS_REAUTH
    connection.last_error = reason
    connection.access_token_enc = connection.refresh_token_enc = None
    connection.access_expires_at = None
    connection.updated_at = now
    return connection
