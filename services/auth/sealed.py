"""Every envelope-encrypted column of the auth database, and re-wrapping them online.

Each column's values are bound to a context naming the row and field (services/common/
envelope.py), so the registry below is also the one place those contexts are spelt.
`rewrap` moves every value to the current KEK in small keyset-paged batches, each its own
short transaction with row locks taken `SKIP LOCKED`: sign-ins, token refreshes and
connection flows carry on while it runs (a row locked by one of them is picked up by the
next pass). `count_by_kid` is what `retire` checks before an old KEK may go.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from services.auth.hashing import IdentifierHasher
from services.auth.models import HmrcConnection, OAuthState, User
from services.common.database import Database
from services.common.envelope import Envelope, EnvelopeError
from services.common.key_rotation import keyset_batches

EMAIL_PURPOSE = "email"


def totp_context(user_id: uuid.UUID) -> str:
    return f"user:{user_id}:totp"


def email_context(user_id: uuid.UUID) -> str:
    return f"user:{user_id}:email"


def name_context(user_id: uuid.UUID) -> str:
    return f"user:{user_id}:name"


def token_context(connection_id: uuid.UUID, field: str) -> str:
    return f"connection:{connection_id}:{field}"


def verifier_context(state_hash: str) -> str:
    return f"oauth-state:{state_hash}:code_verifier"


@dataclass(frozen=True)
class SealedColumn:
    table: sa.Table
    key: str
    column: str
    context: Callable[[Any], str]

    @property
    def label(self) -> str:
        return f"{self.table.name}.{self.column}"


def _table(model: Any) -> sa.Table:
    table = model.__table__
    assert isinstance(table, sa.Table)
    return table


COLUMNS = (
    SealedColumn(_table(User), "id", "email_enc", email_context),
    SealedColumn(_table(User), "id", "name_enc", name_context),
    SealedColumn(_table(User), "id", "totp_secret_enc", totp_context),
    SealedColumn(
        _table(HmrcConnection), "id", "access_token_enc", lambda k: token_context(k, "access_token")
    ),
    SealedColumn(
        _table(HmrcConnection),
        "id",
        "refresh_token_enc",
        lambda k: token_context(k, "refresh_token"),
    ),
    SealedColumn(_table(OAuthState), "state_hash", "code_verifier_enc", verifier_context),
)


def normalise_email(email: str) -> str:
    return email.strip().lower()


def seal_person(
    envelope: Envelope, hasher: IdentifierHasher, user: User, email: str, name: str
) -> None:
    """Set a user's sealed e-mail and name and the keyed hash that finds them by e-mail."""
    email = normalise_email(email)
    user.email_hash = hasher.hash(email, EMAIL_PURPOSE)
    user.email_enc = envelope.encrypt(email, email_context(user.id))
    user.name_enc = envelope.encrypt(name, name_context(user.id))


def email_lookup(hasher: IdentifierHasher, email: str) -> list[str]:
    """The hashes a user with this e-mail may be stored under (one per configured salt)."""
    return hasher.candidates(normalise_email(email), EMAIL_PURPOSE)


def kid_of(column: sa.ColumnElement[Any]) -> sa.ColumnElement[str]:
    return sa.func.split_part(column, ":", 2)


async def count_by_kid(db: Database) -> dict[str, dict[str, int]]:
    """{column label: {kid: values}} over every sealed column."""
    counts: dict[str, dict[str, int]] = {}
    async with db.sessions() as session:
        for col in COLUMNS:
            c = col.table.c[col.column]
            kid = kid_of(c).label("kid")
            rows = await session.execute(
                sa.select(kid, sa.func.count()).where(c.is_not(None)).group_by(kid)
            )
            counts[col.label] = {str(kid): int(n) for kid, n in rows.all()}
    return counts


def totals_by_kid(counts: dict[str, dict[str, int]]) -> Counter[str]:
    total: Counter[str] = Counter()
    for per_kid in counts.values():
        total.update(per_kid)
    return total


@dataclass
class RewrapResult:
    rewrapped: int = 0
    rehashed: int = 0
    unreadable: list[str] = field(default_factory=list)


async def _rewrap_column(
    db: Database,
    envelope: Envelope,
    col: SealedColumn,
    result: RewrapResult,
    batch_size: int,
    pause: float,
) -> None:
    key, value = col.table.c[col.key], col.table.c[col.column]
    query = (
        sa.select(key, value)
        .where(value.is_not(None), kid_of(value) != envelope.current_kid)
        .with_for_update(skip_locked=True)
    )
    async for session, rows in keyset_batches(db.transaction, query, key, batch_size, pause):
        for row_key, stored in rows:
            try:
                fresh = envelope.rewrap(stored, col.context(row_key))
            except EnvelopeError:
                result.unreadable.append(f"{col.label}:{row_key}")
                continue
            await session.execute(
                sa.update(col.table).where(key == row_key).values({col.column: fresh})
            )
            result.rewrapped += 1


async def _rehash_emails(
    db: Database, envelope: Envelope, hasher: IdentifierHasher, result: RewrapResult
) -> None:
    """Users whose e-mail hash was made with an older salt get one under the newest."""
    users = _table(User)
    current = hasher.current + ".%"
    async with db.transaction() as session:
        rows = (
            await session.execute(
                sa.select(users.c.id, users.c.email_enc)
                .where(users.c.email_hash.not_like(current))
                .with_for_update(skip_locked=True)
            )
        ).all()
        for user_id, sealed in rows:
            try:
                email = envelope.decrypt(sealed, email_context(user_id))
            except EnvelopeError:
                result.unreadable.append(f"users.email_hash:{user_id}")
                continue
            await session.execute(
                sa.update(users)
                .where(users.c.id == user_id)
                .values(email_hash=hasher.hash(email, EMAIL_PURPOSE))
            )
            result.rehashed += 1


async def rewrap(
    db: Database,
    envelope: Envelope,
    hasher: IdentifierHasher,
    *,
    batch_size: int = 200,
    pause: float = 0.0,
) -> RewrapResult:
    """Every sealed value re-wrapped under the current KEK (and e-mail hashes under the
    newest salt). Safe to run again; safe while the service runs."""
    result = RewrapResult()
    for col in COLUMNS:
        await _rewrap_column(db, envelope, col, result, batch_size, pause)
    await _rehash_emails(db, envelope, hasher, result)
    return result
