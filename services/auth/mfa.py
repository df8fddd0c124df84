"""TOTP second factor: enrolment (seed shown once, confirmed by a first code), sign-in
challenges, and one-time recovery codes.

The seed is stored envelope-encrypted; a code is accepted only for a time step later than
the last accepted one, so a code seen over someone's shoulder cannot be replayed.
Recovery codes are argon2-hashed and each works once.
"""

from __future__ import annotations

import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pyotp
import sqlalchemy as sa

from services.auth import audit
from services.auth.context import AuthContext
from services.auth.hashing import sha256_hex
from services.auth.models import LoginChallenge, RecoveryCode, User
from services.auth.sealed import email_context, totp_context
from services.common.errors import ProblemError
from services.common.security.jwt_verify import Principal

ISSUER_NAME = "MTD VAT Platform"
RECOVERY_CODES = 10
CHALLENGE_TTL = timedelta(minutes=5)
STEP_SECONDS = 30


def _wrong_code() -> ProblemError:
    return ProblemError(401, "INVALID_MFA_CODE", "The code is wrong, expired or already used.")


@dataclass(frozen=True)
class Enrolment:
    secret: str
    otpauth_uri: str


async def start_enrolment(ctx: AuthContext, user_id: uuid.UUID) -> Enrolment:
    secret = pyotp.random_base32()
    async with ctx.db.transaction() as session:
        user = await session.get(User, user_id, with_for_update=True)
        if user is None:
            raise ProblemError(404, "USER_NOT_FOUND", "No such user.")
        if user.totp_enrolled_at is not None:
            raise ProblemError(409, "MFA_ALREADY_ENROLLED", "An authenticator is already enrolled.")
        user.totp_secret_enc = ctx.keys.envelope.encrypt(secret, totp_context(user.id))
        email = ctx.keys.envelope.decrypt(user.email_enc, email_context(user.id))
    uri = pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER_NAME)
    return Enrolment(secret, uri)


def _matching_step(secret: str, code: str, after: int | None, now: datetime) -> int | None:
    """The time step (now ±1, for clock drift) whose code is `code`, if newer than `after`."""
    totp = pyotp.TOTP(secret)
    current = int(now.timestamp()) // STEP_SECONDS
    for step in (current - 1, current, current + 1):
        if after is not None and step <= after:
            continue
        if hmac.compare_digest(totp.at(step * STEP_SECONDS), code.strip()):
            return step
    return None


async def _check_totp(ctx: AuthContext, user_id: uuid.UUID, code: str) -> User:
    """Verify a TOTP code (throttled per user) and record its step; returns the user."""
    key = f"mfa:{user_id}"
    had_failures = await ctx.throttle.ensure_open(key)
    now = datetime.now(UTC)
    async with ctx.db.transaction() as session:
        user = await session.get(User, user_id, with_for_update=True)
        if user is None or user.totp_secret_enc is None:
            raise ProblemError(409, "MFA_NOT_STARTED", "Start enrolment first.")
        secret = ctx.keys.envelope.decrypt(user.totp_secret_enc, totp_context(user.id))
        step = _matching_step(secret, code, user.totp_last_step, now)
        if step is not None:
            user.totp_last_step = step
            user.last_mfa_at, user.last_mfa_method = now, "totp"
    if step is None:
        await ctx.throttle.failure(key)
        raise _wrong_code()
    await ctx.throttle.success(key, had_failures)
    return user


async def confirm_enrolment(
    ctx: AuthContext, principal: Principal, user_id: uuid.UUID, code: str
) -> tuple[User, list[str]]:
    """First code from the authenticator: the factor is live; returns the recovery codes."""
    user = await _check_totp(ctx, user_id, code)
    codes = ["-".join(secrets.token_hex(3) for _ in range(3)) for _ in range(RECOVERY_CODES)]
    hashes = [await ctx.hasher.hash(c) for c in codes]
    async with ctx.db.transaction() as session:
        locked = await session.get(User, user_id, with_for_update=True)
        assert locked is not None
        if locked.totp_enrolled_at is not None:
            raise ProblemError(409, "MFA_ALREADY_ENROLLED", "An authenticator is already enrolled.")
        locked.totp_enrolled_at = user.last_mfa_at
        await session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
        session.add_all(RecoveryCode(id=uuid.uuid4(), user_id=user_id, code_hash=h) for h in hashes)
        await audit.record(
            session,
            "mfa_enrolled",
            actor=principal,
            tenant_id=locked.tenant_id,
            target_type="user",
            target_id=user_id,
            details={"method": "totp"},
        )
        user = locked
    return user, codes


async def new_challenge(ctx: AuthContext, user: User) -> str:
    token = secrets.token_urlsafe(32)
    async with ctx.db.transaction() as session:
        session.add(
            LoginChallenge(
                token_hash=sha256_hex(token),
                user_id=user.id,
                expires_at=datetime.now(UTC) + CHALLENGE_TTL,
            )
        )
    return token


async def _take_challenge(ctx: AuthContext, token: str) -> uuid.UUID:
    async with ctx.db.sessions() as session:
        challenge = await session.get(LoginChallenge, sha256_hex(token))
    if (
        challenge is None
        or challenge.used_at is not None
        or challenge.expires_at <= datetime.now(UTC)
    ):
        raise ProblemError(
            401,
            "MFA_CHALLENGE_INVALID",
            "The sign-in step has expired or was used; sign in with your password again.",
        )
    return challenge.user_id


async def _close_challenge(ctx: AuthContext, token: str) -> None:
    async with ctx.db.transaction() as session:
        result = await session.execute(
            sa.update(LoginChallenge)
            .where(LoginChallenge.token_hash == sha256_hex(token), LoginChallenge.used_at.is_(None))
            .values(used_at=datetime.now(UTC))
        )
        if getattr(result, "rowcount", 0) != 1:
            raise ProblemError(401, "MFA_CHALLENGE_INVALID", "The sign-in step was already used.")


async def verify_challenge(
    ctx: AuthContext, token: str, *, code: str | None, recovery_code: str | None
) -> tuple[User, str]:
    """The second sign-in step: a TOTP code or a recovery code. Returns (user, method)."""
    user_id = await _take_challenge(ctx, token)
    if code:
        user = await _check_totp(ctx, user_id, code)
        method = "totp"
    elif recovery_code:
        user = await _use_recovery_code(ctx, user_id, recovery_code)
        method = "recovery_code"
    else:
        raise ProblemError(422, "MFA_CODE_REQUIRED", "Give `code` or `recovery_code`.")
    await _close_challenge(ctx, token)
    return user, method


async def _use_recovery_code(ctx: AuthContext, user_id: uuid.UUID, code: str) -> User:
    key = f"mfa:{user_id}"
    had_failures = await ctx.throttle.ensure_open(key)
    async with ctx.db.sessions() as session:
        candidates = list(
            await session.scalars(
                sa.select(RecoveryCode).where(
                    RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None)
                )
            )
        )
    match = None
    for candidate in candidates:
        if await ctx.hasher.verify(candidate.code_hash, code.strip().lower()):
            match = candidate
            break
    now = datetime.now(UTC)
    if match is not None:
        async with ctx.db.transaction() as session:
            # Conditional: two racing uses of one code cannot both win.
            result = await session.execute(
                sa.update(RecoveryCode)
                .where(RecoveryCode.id == match.id, RecoveryCode.used_at.is_(None))
                .values(used_at=now)
            )
            if getattr(result, "rowcount", 0) == 1:
                user = await session.get(User, user_id, with_for_update=True)
                assert user is not None
                user.last_mfa_at, user.last_mfa_method = now, "recovery_code"
                await audit.record(
                    session,
                    "recovery_code_used",
                    actor=None,
                    tenant_id=user.tenant_id,
                    target_type="user",
                    target_id=user_id,
                    details={"remaining": len(candidates) - 1},
                )
                await ctx.throttle.success(key, had_failures)
                return user
    await ctx.throttle.failure(key)
    raise _wrong_code()
