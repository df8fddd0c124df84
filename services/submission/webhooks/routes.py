"""The webhooks API: register (the signing secret is shown once), list, delete, delivery log.

Tenant-scoped: a webhook belongs to the caller's tenant, and another tenant's id answers 404
as if it did not exist. Registering and deleting need `vat:submit`; reading needs `vat:read`.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from services.common.errors import ProblemError
from services.common.security.jwt_verify import Principal, require_scopes
from services.submission.routes import tenant_of
from services.submission.webhooks import urls
from services.submission.webhooks.models import Attempt, Delivery, Webhook
from services.submission.webhooks.sealing import SecretBox

router = APIRouter(tags=["webhooks"])
Manager = Annotated[Principal, Depends(require_scopes("vat:submit"))]
Reader = Annotated[Principal, Depends(require_scopes("vat:read"))]
EventName = Literal["return.accepted", "return.rejected"]
ALL_EVENTS: list[EventName] = ["return.accepted", "return.rejected"]
MAX_PER_TENANT = 20


class NewWebhook(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(max_length=urls.MAX_LENGTH)
    events: list[EventName] = Field(default_factory=lambda: list(ALL_EVENTS), min_length=1)
    description: str | None = Field(default=None, max_length=200)


def secret_box(request: Request) -> SecretBox:
    box: SecretBox | None = request.app.state.webhook_box
    if box is None:
        raise ProblemError(
            503,
            "WEBHOOKS_NOT_CONFIGURED",
            "Webhooks are not configured on this deployment (SUBMISSION_WEBHOOK_KEYS).",
        )
    return box


def view(hook: Webhook) -> dict[str, Any]:
    return {
        "id": str(hook.id),
        "url": hook.url,
        "events": list(hook.events),
        "description": hook.description,
        "createdAt": hook.created_at.isoformat(),
    }


async def owned(request: Request, tenant: str, webhook_id: uuid.UUID) -> Webhook:
    async with request.app.state.runtime.database().sessions() as session:
        hook = await session.get(Webhook, webhook_id)
    if not isinstance(hook, Webhook) or hook.tenant_id != tenant or hook.deleted_at:
        raise ProblemError(404, "WEBHOOK_NOT_FOUND", "No such webhook for this tenant.")
    return hook


@router.post("/v1/webhooks", status_code=201, summary="Register a URL for return outcomes")
async def register(request: Request, body: NewWebhook, principal: Manager) -> dict[str, Any]:
    tenant = tenant_of(principal)
    box = secret_box(request)
    production = request.app.state.runtime.settings.environment == "production"
    url = urls.check(body.url, production=production)
    secret = "whsec_" + secrets.token_urlsafe(32)
    hook_id = uuid.uuid4()
    hook = Webhook(
        id=hook_id,
        tenant_id=tenant,
        url=url,
        events=sorted(set(body.events)),
        description=body.description,
        secret_sealed=box.seal(secret, f"webhook:{hook_id}"),
        created_by=principal.subject,
        created_at=datetime.now(UTC),
    )
    async with request.app.state.runtime.database().transaction() as session:
        live = await session.scalar(
            sa.select(sa.func.count()).where(
                Webhook.tenant_id == tenant, Webhook.deleted_at.is_(None)
            )
        )
        if (live or 0) >= MAX_PER_TENANT:
            raise ProblemError(
                409,
                "WEBHOOK_LIMIT_REACHED",
                f"A tenant may register at most {MAX_PER_TENANT} webhooks.",
                action="Delete a webhook you no longer use.",
            )
        session.add(hook)
    # The only time the secret is shown: it is stored sealed and never returned again.
    return {**view(hook), "secret": secret}


@router.get("/v1/webhooks", summary="The tenant's webhooks (without their secrets)")
async def list_webhooks(request: Request, principal: Reader) -> dict[str, Any]:
    tenant = tenant_of(principal)
    async with request.app.state.runtime.database().sessions() as session:
        hooks = (
            await session.execute(
                sa.select(Webhook)
                .where(Webhook.tenant_id == tenant, Webhook.deleted_at.is_(None))
                .order_by(Webhook.created_at)
            )
        ).scalars()
        return {"webhooks": [view(h) for h in hooks]}


@router.get("/v1/webhooks/{webhook_id}", summary="One webhook")
async def get_webhook(request: Request, webhook_id: uuid.UUID, principal: Reader) -> dict[str, Any]:
    return view(await owned(request, tenant_of(principal), webhook_id))


@router.delete("/v1/webhooks/{webhook_id}", status_code=204, summary="Stop sending to a URL")
async def delete_webhook(request: Request, webhook_id: uuid.UUID, principal: Manager) -> Response:
    hook = await owned(request, tenant_of(principal), webhook_id)
    async with request.app.state.runtime.database().transaction() as session:
        await session.execute(
            sa.update(Webhook).where(Webhook.id == hook.id).values(deleted_at=datetime.now(UTC))
        )
        await session.execute(
            sa.update(Delivery)
            .where(Delivery.webhook_id == hook.id, Delivery.state == "pending")
            .values(state="cancelled")
        )
    return Response(status_code=204)


@router.get("/v1/webhooks/{webhook_id}/deliveries", summary="The delivery log, newest first")
async def deliveries(
    request: Request,
    webhook_id: uuid.UUID,
    principal: Reader,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> dict[str, Any]:
    hook = await owned(request, tenant_of(principal), webhook_id)
    async with request.app.state.runtime.database().sessions() as session:
        rows = list(
            (
                await session.execute(
                    sa.select(Delivery)
                    .where(Delivery.webhook_id == hook.id)
                    .order_by(Delivery.created_at.desc())
                    .limit(limit)
                )
            ).scalars()
        )
        attempts = (
            await session.execute(
                sa.select(Attempt)
                .where(Attempt.delivery_id.in_([d.id for d in rows]))
                .order_by(Attempt.id)
            )
        ).scalars()
        by_delivery: dict[uuid.UUID, list[dict[str, Any]]] = {}
        for a in attempts:
            by_delivery.setdefault(a.delivery_id, []).append(
                {
                    "at": a.at.isoformat(),
                    "statusCode": a.status_code,
                    "error": a.error,
                    "durationMs": a.duration_ms,
                }
            )
    return {
        "deliveries": [
            {
                "id": str(d.id),
                "event": d.event,
                "submissionId": str(d.submission_id),
                "state": d.state,
                "attempts": d.attempts,
                "nextAttemptAt": d.next_attempt_at.isoformat() if d.state == "pending" else None,
                "deliveredAt": d.delivered_at.isoformat() if d.delivered_at else None,
                "lastStatus": d.last_status,
                "lastError": d.last_error,
                "createdAt": d.created_at.isoformat(),
                "attemptLog": by_delivery.get(d.id, []),
            }
            for d in rows
        ]
    }
