"""Users: people who sign in with a password and a TOTP second factor."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from services.auth import audit, fraud, metrics, sealed
from services.auth.context import AuthContext
from services.auth.models import User
from services.auth.rbac import check_assignable
from services.common.errors import ProblemError
from services.common.security.jwt_verify import Principal

MIN_PASSWORD_LENGTH = 12
# A token that only lets a signed-in user enrol a second factor, nothing else.
ENROLMENT_SCOPE = "mfa:enrol"


@dataclass(frozen=True)
class Person:
    """A user's sealed e-mail and name, opened for display."""

    email: str
    name: str


def person(ctx: AuthContext, user: User) -> Person:
    envelope = ctx.keys.envelope
    return Person(
        email=envelope.decrypt(user.email_enc, sealed.email_context(user.id)),
        name=envelope.decrypt(user.name_enc, sealed.name_context(user.id)),
    )


def check_password_strength(password: str, email: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ProblemError(
            422, "WEAK_PASSWORD", f"Passwords need at least {MIN_PASSWORD_LENGTH} characters."
        )
    if sealed.normalise_email(email).split("@")[0] in password.lower():
        raise ProblemError(422, "WEAK_PASSWORD", "The password must not contain the email name.")


def _lock_key(lookup: list[str]) -> int:
    """A transaction lock id for one e-mail, the same under every salt."""
    return int.from_bytes(hashlib.sha256(min(lookup).encode()).digest()[:8], "big", signed=True)


@metrics.counts_signup("user")
async def create_user(
    ctx: AuthContext,
    actor: Principal,
    *,
    tenant_id: uuid.UUID | None,
    email: str,
    name: str,
    roles: list[str],
    password: str,
) -> User:
    """A tenant's user, or with `tenant_id` None a platform user (support staff)."""
    roles = check_assignable(roles, platform=tenant_id is None, person=True)
    check_password_strength(password, email)
    user = User(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        roles=roles,
        password_hash=await ctx.hasher.hash(password),
    )
    sealed.seal_person(ctx.keys.envelope, ctx.keys.identifiers, user, email, name)
    lookup = sealed.email_lookup(ctx.keys.identifiers, email)
    try:
        async with ctx.db.transaction() as session:
            # The unique index covers hashes under one salt; across a salt rotation this
            # check (serialised per e-mail) catches a user stored under an older salt.
            await session.execute(sa.select(sa.func.pg_advisory_xact_lock(_lock_key(lookup))))
            if await session.scalar(sa.select(User.id).where(User.email_hash.in_(lookup))):
                raise IntegrityError("email exists", None, Exception())
            session.add(user)
            await session.flush()
            await audit.record(
                session,
                "user_created",
                actor=actor,
                tenant_id=tenant_id,
                target_type="user",
                target_id=user.id,
                details={"roles": roles},
            )
    except IntegrityError:
        raise ProblemError(409, "USER_EXISTS", "A user with this email exists.") from None
    return user


async def get_user(ctx: AuthContext, user_id: uuid.UUID, tenant_id: uuid.UUID | None) -> User:
    async with ctx.db.sessions() as session:
        user = await session.get(User, user_id)
    if user is None or (tenant_id is not None and user.tenant_id != tenant_id):
        raise ProblemError(404, "USER_NOT_FOUND", f"No user {user_id} in this tenant.")
    return user


async def list_users(ctx: AuthContext, tenant_id: uuid.UUID) -> list[User]:
    async with ctx.db.sessions() as session:
        rows = list(await session.scalars(sa.select(User).where(User.tenant_id == tenant_id)))
    # The e-mail is sealed, so the database cannot order by it.
    return sorted(rows, key=lambda user: person(ctx, user).email)


async def set_roles(
    ctx: AuthContext,
    actor: Principal,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    roles: list[str],
) -> User:
    roles = check_assignable(roles, platform=False)
    await get_user(ctx, user_id, tenant_id)
    async with ctx.db.transaction() as session:
        user = await session.get(User, user_id, with_for_update=True)
        assert user is not None
        before = list(user.roles)
        user.roles = roles
        await audit.record(
            session,
            "role_changed",
            actor=actor,
            tenant_id=tenant_id,
            target_type="user",
            target_id=user_id,
            details={"before": before, "after": roles},
        )
    return user


async def check_password(ctx: AuthContext, email: str, password: str) -> User:
    """The user with this email and password; throttled per email (known or not)."""
    lookup = sealed.email_lookup(ctx.keys.identifiers, email)
    # The throttle key names the e-mail by its hash, never in clear.
    key = f"password:{lookup[0]}"
    had_failures = await ctx.throttle.ensure_open(key)
    async with ctx.db.sessions() as session:
        user = await session.scalar(sa.select(User).where(User.email_hash.in_(lookup)))
    ok = await ctx.hasher.verify(user.password_hash if user else None, password)
    if not ok or user is None or user.disabled:
        await ctx.throttle.failure(key)
        raise ProblemError(401, "INVALID_CREDENTIALS", "Wrong email or password.")
    await ctx.throttle.success(key, had_failures)
    return user


def enrolment_token(ctx: AuthContext, user: User) -> str:
    """Password only: good for enrolling a second factor and nothing else."""
    return ctx.issuer.issue(
        subject=str(user.id),
        kind="user",
        tenant_id=user.tenant_id,
        roles=[],
        scopes=[ENROLMENT_SCOPE],
        extra={"amr": ["pwd"], "auth_time": int(datetime.now(UTC).timestamp())},
    )


def session_token(ctx: AuthContext, user: User, method: str, mfa_at: datetime) -> str:
    """Password and second factor: the user's full roles."""
    assert user.totp_enrolled_at is not None
    facts = fraud.facts(
        ctx.keys.identifiers,
        user.id,
        mfa_method=method,
        mfa_at=mfa_at,
        enrolled_at=user.totp_enrolled_at,
    )
    return ctx.issuer.issue(
        subject=str(user.id),
        kind="user",
        tenant_id=user.tenant_id,
        roles=list(user.roles),
        extra={
            "amr": ["pwd", "mfa", "otp" if method == "totp" else "rec"],
            "auth_time": int(mfa_at.timestamp()),
            "mfa_time": int(mfa_at.timestamp()),
            "mfa": facts["multi_factor"],
            "uid_hash": facts["user_id_hash"],
        },
    )
