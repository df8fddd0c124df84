"""Roles, the scopes they put in access tokens, and who may do what.

Tenant roles act only inside their own tenant; platform roles (held by platform clients
and users, which belong to no tenant) act across tenants but read no tenant's data:
support staff read a tenant only with a break-glass token (role `break_glass`, scoped to
that tenant, read-only, issued under a grant its admin approved). Other services check
scopes; this service checks actions.
"""

from __future__ import annotations

import uuid
from enum import StrEnum

from services.common.errors import ProblemError
from services.common.security.jwt_verify import Principal


class Role(StrEnum):
    TENANT_ADMIN = "tenant_admin"
    PREPARER = "preparer"
    SUBMITTER = "submitter"
    VIEWER = "viewer"
    AUDITOR = "auditor"
    PLATFORM_SUPPORT = "platform_support"
    PLATFORM_ADMIN = "platform_admin"
    # Internal services (the HMRC gateway); never a person.
    PLATFORM_SERVICE = "platform_service"
    # Only in break-glass tokens (services/auth/break_glass.py); never assigned.
    BREAK_GLASS = "break_glass"


TENANT_ROLES = frozenset(
    {Role.TENANT_ADMIN, Role.PREPARER, Role.SUBMITTER, Role.VIEWER, Role.AUDITOR}
)
PLATFORM_ROLES = frozenset({Role.PLATFORM_SUPPORT, Role.PLATFORM_ADMIN, Role.PLATFORM_SERVICE})

ROLE_SCOPES: dict[Role, frozenset[str]] = {
    Role.TENANT_ADMIN: frozenset(
        {
            "tenant:admin",
            "vat:read",
            "vat:prepare",
            "vat:submit",
            "connections:write",
            "connections:read",
            "audit:read",
        }
    ),
    Role.PREPARER: frozenset({"vat:read", "vat:prepare", "connections:read"}),
    Role.SUBMITTER: frozenset(
        {"vat:read", "vat:prepare", "vat:submit", "connections:read", "connections:write"}
    ),
    Role.VIEWER: frozenset({"vat:read", "connections:read"}),
    Role.AUDITOR: frozenset({"vat:read", "audit:read", "connections:read"}),
    Role.PLATFORM_SUPPORT: frozenset({"support:read"}),
    Role.PLATFORM_ADMIN: frozenset({"platform:admin"}),
    Role.PLATFORM_SERVICE: frozenset({"hmrc:tokens", "fraud:facts"}),
    Role.BREAK_GLASS: frozenset({"vat:read", "connections:read", "audit:read"}),
}


def scopes_for(roles: list[str]) -> list[str]:
    scopes: set[str] = set()
    for role in roles:
        scopes |= ROLE_SCOPES.get(Role(role), frozenset())
    return sorted(scopes)


class Action(StrEnum):
    TENANT_CREATE = "tenant:create"
    TENANT_READ = "tenant:read"
    CLIENT_MANAGE = "client:manage"
    CLIENT_READ = "client:read"
    USER_MANAGE = "user:manage"
    USER_READ = "user:read"
    CONNECTION_CREATE = "connection:create"
    CONNECTION_READ = "connection:read"
    CONNECTION_REVOKE = "connection:revoke"
    HMRC_TOKEN_ISSUE = "hmrc-token:issue"  # noqa: S105 - an action name
    FRAUD_FACTS_READ = "fraud-facts:read"
    PLATFORM_USER_MANAGE = "platform-user:manage"
    BREAK_GLASS_REQUEST = "break-glass:request"
    BREAK_GLASS_DECIDE = "break-glass:decide"
    BREAK_GLASS_READ = "break-glass:read"


# Who reads a tenant's identities and connections: its admins and auditors, and support
# staff only through a break-glass token (role BREAK_GLASS, never PLATFORM_SUPPORT).
TENANT_READERS = frozenset({Role.PLATFORM_ADMIN, Role.TENANT_ADMIN, Role.AUDITOR, Role.BREAK_GLASS})

PERMISSIONS: dict[Action, frozenset[Role]] = {
    Action.TENANT_CREATE: frozenset({Role.PLATFORM_ADMIN}),
    Action.TENANT_READ: TENANT_READERS,
    Action.CLIENT_MANAGE: frozenset({Role.PLATFORM_ADMIN, Role.TENANT_ADMIN}),
    Action.CLIENT_READ: TENANT_READERS,
    Action.USER_MANAGE: frozenset({Role.PLATFORM_ADMIN, Role.TENANT_ADMIN}),
    Action.USER_READ: TENANT_READERS,
    Action.CONNECTION_CREATE: frozenset({Role.TENANT_ADMIN, Role.SUBMITTER}),
    Action.CONNECTION_READ: frozenset(
        {
            Role.TENANT_ADMIN,
            Role.PREPARER,
            Role.SUBMITTER,
            Role.VIEWER,
            Role.AUDITOR,
            Role.BREAK_GLASS,
        }
    ),
    Action.CONNECTION_REVOKE: frozenset({Role.TENANT_ADMIN}),
    Action.HMRC_TOKEN_ISSUE: frozenset({Role.PLATFORM_SERVICE}),
    Action.FRAUD_FACTS_READ: frozenset({Role.PLATFORM_SERVICE}),
    Action.PLATFORM_USER_MANAGE: frozenset({Role.PLATFORM_ADMIN}),
    Action.BREAK_GLASS_REQUEST: frozenset({Role.PLATFORM_SUPPORT}),
    Action.BREAK_GLASS_DECIDE: frozenset({Role.TENANT_ADMIN}),
    # Support staff see only their own requests (services/auth/break_glass.py).
    Action.BREAK_GLASS_READ: frozenset({Role.TENANT_ADMIN, Role.AUDITOR, Role.PLATFORM_SUPPORT}),
}


def authorize(principal: Principal, action: Action, tenant_id: uuid.UUID | None = None) -> None:
    """Raise 403 unless `principal` may do `action` (in `tenant_id`, when given)."""
    allowed = PERMISSIONS[action]
    if not principal.roles & {r.value for r in allowed}:
        raise ProblemError(
            403,
            "FORBIDDEN",
            f"This needs one of the roles: {', '.join(sorted(r.value for r in allowed))}.",
        )
    if (
        tenant_id is not None
        and not principal.is_platform
        and principal.tenant_id != str(tenant_id)
    ):
        raise ProblemError(403, "FORBIDDEN", "You may act only within your own tenant.")


def check_assignable(roles: list[str], *, platform: bool, person: bool = False) -> list[str]:
    """Validate roles to give a client or user: tenant members get tenant roles only."""
    try:
        parsed = sorted({Role(r) for r in roles})
    except ValueError:
        raise ProblemError(
            422,
            "UNKNOWN_ROLE",
            f"Roles must be among: {', '.join(sorted(TENANT_ROLES | PLATFORM_ROLES))}.",
        ) from None
    if not parsed:
        raise ProblemError(422, "NO_ROLES", "Give at least one role.")
    allowed = TENANT_ROLES
    if platform:
        # A service role is never a person's; BREAK_GLASS is never assigned to anyone.
        allowed = PLATFORM_ROLES - {Role.PLATFORM_SERVICE} if person else PLATFORM_ROLES
    wrong = [r.value for r in parsed if r not in allowed]
    if wrong:
        raise ProblemError(
            422,
            "ROLE_NOT_ASSIGNABLE",
            f"Roles {', '.join(wrong)} cannot be given to a "
            f"{'platform' if platform else 'tenant'} {'user' if person else 'identity'}.",
        )
    return [r.value for r in parsed]
