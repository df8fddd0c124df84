"""Privileged actions as audit events (the platform's `PrivilegedAction` contract), written
to the outbox in the action's transaction as `audit.auth.<action>`, so an action and its
audit record commit together."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.audit_events import (
    Actor,
    PrivilegedAction,
    Target,
    payload,
    privileged_action_subject,
)
from services.common.messaging import outbox
from services.common.security.jwt_verify import Principal

SERVICE = "auth"


def actor_of(principal: Principal | None) -> Actor:
    if principal is None:
        return Actor(kind="system", id=SERVICE, tenant_id=None)
    return Actor(kind=principal.kind, id=principal.subject, tenant_id=principal.tenant_id)


def _trace_id() -> str | None:
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else None


def _data_subject(target_type: str, target_id: Any, details: dict[str, Any]) -> str | None:
    """Whose personal data the record holds, so erasure can find it."""
    if target_type == "user":
        return f"user:{target_id}"
    if "vrn" in details:
        return f"vrn:{details['vrn']}"
    return None


async def record(
    session: AsyncSession,
    action: str,
    *,
    actor: Principal | None,
    tenant_id: Any,
    target_type: str,
    target_id: Any,
    details: dict[str, Any] | None = None,
    data_subject: str | None = None,
) -> None:
    event = PrivilegedAction(
        action=action,
        service=SERVICE,
        occurred_at=datetime.now(UTC),
        actor=actor_of(actor),
        tenant_id=str(tenant_id) if tenant_id else None,
        target=Target(type=target_type, id=str(target_id)),
        details=details or {},
        trace_id=_trace_id(),
        data_subject=data_subject or _data_subject(target_type, target_id, details or {}),
    )
    await outbox.add(session, privileged_action_subject(SERVICE, action), payload(event))
