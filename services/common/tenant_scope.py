"""Which tenant a database transaction acts for, told to PostgreSQL per transaction.

Row-level security policies compare a table's `tenant_id` with
`current_setting('app.tenant_id', true)`, or let everything through when
`current_setting('app.system_scope', true) = 'on'`. Both are set with
`set_config(..., true)` (transaction-local), so a pooled connection never carries one
request's tenant into the next transaction.

- `acting_for(tenant_id)` is entered by the authentication dependency with the tenant of
  the verified token, never with a tenant named in request input.
- `system_scope(reason)` is for internal cross-tenant work only (workers, sweepers, relays,
  retention); no request handler enters it.
- With neither, nothing is set and a policy sees no rows: the default fails closed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.orm import Session, SessionTransaction

TENANT_SETTING = "app.tenant_id"
SYSTEM_SETTING = "app.system_scope"

_tenant: ContextVar[str | None] = ContextVar("db_tenant", default=None)
_system: ContextVar[str | None] = ContextVar("db_system_scope", default=None)

_SET = text(
    f"SELECT set_config('{TENANT_SETTING}', :tenant, true),"
    f" set_config('{SYSTEM_SETTING}', :system, true)"
)


def current_tenant() -> str | None:
    return _tenant.get()


def current_system_reason() -> str | None:
    return _system.get()


@contextmanager
def acting_for(tenant_id: str) -> Iterator[None]:
    """Transactions begun inside see only `tenant_id`'s rows."""
    if not tenant_id:
        raise ValueError("a tenant scope needs a tenant id")
    token = _tenant.set(str(tenant_id))
    try:
        yield
    finally:
        _tenant.reset(token)


@contextmanager
def system_scope(reason: str) -> Iterator[None]:
    """Transactions begun inside see every tenant's rows; `reason` names the internal job."""
    if not reason:
        raise ValueError("a system scope needs a reason")
    token = _system.set(reason)
    try:
        yield
    finally:
        _system.reset(token)


class TenantScopedSession(Session):
    """The session class every service's `Database` uses (see `_on_begin`)."""


@event.listens_for(TenantScopedSession, "after_begin")
def _on_begin(session: Session, transaction: SessionTransaction, connection: Any) -> None:
    tenant, system = _tenant.get(), _system.get()
    if tenant is None and system is None:
        return  # nothing to allow: an unscoped transaction costs no extra round trip
    connection.execute(_SET, {"tenant": tenant or "", "system": "on" if system else ""})
