"""From the ledger's final transitions to delivery rows: one per webhook that wants the event.

Two paths reach `enqueue`, and the unique (webhook, return, event) key makes them agree:
- the JetStream consumers of `submission.accepted` / `submission.rejected` (the outbox's
  events; the inbox makes a redelivery a no-op), which is the prompt path;
- a sweep of recent final transitions in PostgreSQL that have no delivery yet, so an event
  JetStream lost (see DESIGN.md on NATS durability) still reaches the receiver.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.database import Database
from services.common.logging import get_logger
from services.common.messaging import streams
from services.common.messaging.consumer import Consumer, Event
from services.common.service import Runtime
from services.common.tasks import raise_if_cancelling
from services.submission.models import Submission, Transition
from services.submission.states import State
from services.submission.webhooks.models import Delivery, Webhook

log = get_logger(__name__)

EVENT_OF_STATE = {State.ACCEPTED: "return.accepted", State.REJECTED: "return.rejected"}
# Left to the consumers before the sweep steps in.
SWEEP_GRACE = timedelta(seconds=30)


def payload(delivery_id: uuid.UUID, event: str, at: datetime, sub: Submission) -> dict[str, Any]:
    return {
        "id": str(delivery_id),
        "type": event,
        "occurredAt": at.isoformat(),
        "data": {
            "submissionId": str(sub.id),
            "vrn": sub.vrn,
            "periodKey": sub.period_key,
            "status": sub.state,
            "statusUrl": f"/v1/vat/{sub.vrn}/returns/{sub.id}",
            "receipt": sub.receipt,
            "error": (
                {"code": sub.error_code, "message": sub.error_message} if sub.error_code else None
            ),
        },
    }


async def enqueue(
    session: AsyncSession, submission_id: uuid.UUID, state: State, at: datetime
) -> int:
    """Delivery rows for every live webhook of the return's tenant that wants this event and
    existed when it happened; returns how many were new."""
    event = EVENT_OF_STATE[state]
    sub = await session.get(Submission, submission_id)
    if sub is None:
        return 0
    hooks = (
        await session.execute(
            sa.select(Webhook.id).where(
                Webhook.tenant_id == sub.tenant_id,
                Webhook.deleted_at.is_(None),
                Webhook.created_at <= at,
                sa.literal(event) == sa.any_(Webhook.events),
            )
        )
    ).scalars()
    now = datetime.now(UTC)
    rows = []
    for hook_id in hooks:
        delivery_id = uuid.uuid4()
        rows.append(
            {
                "id": delivery_id,
                "webhook_id": hook_id,
                "tenant_id": sub.tenant_id,
                "submission_id": sub.id,
                "event": event,
                "payload": payload(delivery_id, event, at, sub),
                "state": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
        )
    if not rows:
        return 0
    result = await session.execute(
        insert(Delivery).values(rows).on_conflict_do_nothing().returning(Delivery.id)
    )
    return len(result.all())


async def on_final(session: AsyncSession, event: Event) -> None:
    """One `submission.accepted|rejected` fact from the ledger."""
    fact: dict[str, Any] = event.data or {}
    state = State(str(fact["to_state"]))
    occurred = fact.get("occurred_at")
    at = datetime.fromisoformat(str(occurred)) if occurred else datetime.now(UTC)
    await enqueue(session, uuid.UUID(str(fact["submission_id"])), state, at)


def consumers(runtime: Runtime, durable: str) -> list[Consumer]:
    return [
        Consumer(
            runtime.database(),
            runtime.jetstream(),
            stream=streams.SUBMISSIONS.name,
            durable=f"{durable}-{state}",
            filter_subject=f"submission.{state}",
            handler=on_final,
        )
        for state in EVENT_OF_STATE
    ]


async def sweep(db: Database, window: timedelta) -> int:
    """Final transitions of the last `window` that a live webhook wants but has no row for."""
    now = datetime.now(UTC)
    event = sa.func.concat("return.", Transition.to_state)
    missing = (
        sa.select(Transition.submission_id, Transition.to_state, Transition.at)
        .join(Submission, Submission.id == Transition.submission_id)
        .join(
            Webhook,
            sa.and_(
                Webhook.tenant_id == Submission.tenant_id,
                Webhook.deleted_at.is_(None),
                Webhook.created_at <= Transition.at,
                event == sa.any_(Webhook.events),
            ),
        )
        .where(
            Transition.to_state.in_([str(s) for s in EVENT_OF_STATE]),
            Transition.at > now - window,
            Transition.at < now - SWEEP_GRACE,
            ~sa.exists().where(
                Delivery.webhook_id == Webhook.id,
                Delivery.submission_id == Transition.submission_id,
                Delivery.event == event,
            ),
        )
        .distinct()
        .limit(200)
    )
    created = 0
    async with db.transaction() as session:
        for sid, state, at in (await session.execute(missing)).all():
            created += await enqueue(session, sid, State(state), at)
    if created:
        log.warning("webhook deliveries created by the sweep", count=created)
    return created


async def run(runtime: Runtime, durable: str, window: timedelta) -> None:
    """The consumers, and the sweep every minute."""

    async def sweeping() -> None:
        while True:
            raise_if_cancelling()
            try:
                await sweep(runtime.database(), window)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                raise_if_cancelling()
                log.warning("webhook sweep failed; retrying", error=str(exc))
            await asyncio.sleep(60)

    await asyncio.gather(sweeping(), *(c.run() for c in consumers(runtime, durable)))
