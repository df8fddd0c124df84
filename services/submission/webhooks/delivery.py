"""Sending deliveries: claimed from PostgreSQL, retried with exponential backoff and jitter.

A claim pushes `next_attempt_at` past the request's timeout before the request is made, so
replicas never send the same delivery at once and a sender that dies mid-request leaves the
row to be tried again after the claim runs out. Any 2xx is delivered; anything else (no
answer, a timeout, a redirect, 4xx, 5xx) is retried until `max_attempts`.
"""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import sqlalchemy as sa

from services.common import jsonutil
from services.common.database import Database
from services.common.logging import get_logger
from services.common.tasks import raise_if_cancelling
from services.submission.webhooks import signing, urls
from services.submission.webhooks.models import Attempt, Delivery, Webhook
from services.submission.webhooks.sealing import SealError, SecretBox

log = get_logger(__name__)
_random = secrets.SystemRandom()
USER_AGENT = "mtd-vat-webhooks/1"


@dataclass(frozen=True)
class Policy:
    base_s: float
    cap_s: float
    max_attempts: int
    timeout_s: float
    # Production: refuse a URL whose name now resolves to a private address.
    public_only: bool = False

    def backoff(self, failed_attempts: int) -> float:
        """Seconds before the next attempt: exponential, capped, with 'equal jitter'."""
        delay = min(self.cap_s, self.base_s * 2.0 ** max(failed_attempts - 1, 0))
        jitter: float = _random.uniform(0, delay / 2)
        return delay / 2 + jitter


@dataclass(frozen=True)
class Claimed:
    id: uuid.UUID
    webhook_id: uuid.UUID
    url: str
    secret_sealed: str
    event: str
    body: bytes
    attempt: int


async def claim(db: Database, policy: Policy, limit: int = 20) -> list[Claimed]:
    now = datetime.now(UTC)
    due = (
        sa.select(Delivery.id)
        .where(Delivery.state == "pending", Delivery.next_attempt_at <= now)
        .order_by(Delivery.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    async with db.transaction() as session:
        rows = (
            await session.execute(
                sa.update(Delivery)
                .where(Delivery.id.in_(due))
                .values(
                    attempts=Delivery.attempts + 1,
                    next_attempt_at=now + timedelta(seconds=policy.timeout_s * 3),
                )
                .returning(
                    Delivery.id,
                    Delivery.webhook_id,
                    Delivery.event,
                    Delivery.payload,
                    Delivery.attempts,
                )
            )
        ).all()
        if not rows:
            return []
        hooks = {
            h.id: h
            for h in (
                await session.execute(
                    sa.select(Webhook).where(Webhook.id.in_({r.webhook_id for r in rows}))
                )
            ).scalars()
        }
        claimed = []
        for r in rows:
            hook = hooks[r.webhook_id]
            if hook.deleted_at is not None:
                await session.execute(
                    sa.update(Delivery).where(Delivery.id == r.id).values(state="cancelled")
                )
                continue
            claimed.append(
                Claimed(
                    r.id,
                    r.webhook_id,
                    hook.url,
                    hook.secret_sealed,
                    r.event,
                    jsonutil.dumps(r.payload).encode(),
                    r.attempts,
                )
            )
        return claimed


async def send(
    http: httpx.AsyncClient, box: SecretBox, item: Claimed, *, public_only: bool = False
) -> tuple[int | None, str | None]:
    """One POST; (status code, error) — the error is None for a 2xx."""
    if public_only and (refusal := await urls.resolves_internal(item.url)):
        return None, refusal
    try:
        secret = box.open(item.secret_sealed, f"webhook:{item.webhook_id}")
    except SealError:
        # The key that sealed it is no longer configured: an attempt that fails, not a loop.
        return None, "the signing secret cannot be opened with SUBMISSION_WEBHOOK_KEYS"
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Mtd-Webhook-Id": str(item.webhook_id),
        "Mtd-Delivery-Id": str(item.id),
        "Mtd-Event": item.event,
        "Mtd-Attempt": str(item.attempt),
        signing.HEADER: signing.header_value(secret, item.body),
    }
    try:
        response = await http.post(item.url, content=item.body, headers=headers)
    except httpx.TimeoutException:
        return None, "timed out"
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: {exc}"[:300]
    if 200 <= response.status_code < 300:
        return response.status_code, None
    return response.status_code, f"HTTP {response.status_code}"


async def record(
    db: Database,
    policy: Policy,
    item: Claimed,
    status: int | None,
    error: str | None,
    duration_ms: int,
) -> None:
    now = datetime.now(UTC)
    if error is None:
        outcome = {"state": "delivered", "delivered_at": now}
    elif item.attempt >= policy.max_attempts:
        outcome = {"state": "failed"}
    else:
        outcome = {"next_attempt_at": now + timedelta(seconds=policy.backoff(item.attempt))}
    async with db.transaction() as session:
        session.add(
            Attempt(
                delivery_id=item.id,
                at=now,
                status_code=status,
                error=error,
                duration_ms=duration_ms,
            )
        )
        await session.execute(
            sa.update(Delivery)
            .where(Delivery.id == item.id, Delivery.state == "pending")
            .values(last_status=status, last_error=error, **outcome)
        )
    if error is not None:
        log.info(
            "webhook delivery failed",
            delivery=str(item.id),
            attempt=item.attempt,
            error=error,
            final=item.attempt >= policy.max_attempts,
        )


async def deliver_due(db: Database, box: SecretBox, http: httpx.AsyncClient, policy: Policy) -> int:
    """Claim what is due, send it all concurrently, record each outcome; how many were sent."""
    claimed = await claim(db, policy)

    async def one(item: Claimed) -> None:
        started = time.monotonic()
        status, error = await send(http, box, item, public_only=policy.public_only)
        await record(db, policy, item, status, error, round((time.monotonic() - started) * 1000))

    await asyncio.gather(*(one(item) for item in claimed))
    return len(claimed)


async def run(db: Database, box: SecretBox, policy: Policy, poll_s: float) -> None:
    async with httpx.AsyncClient(timeout=policy.timeout_s, follow_redirects=False) as http:
        while True:
            raise_if_cancelling()
            try:
                sent = await deliver_due(db, box, http, policy)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                raise_if_cancelling()
                log.warning("webhook sending failed; retrying", error=str(exc))
                sent = 0
            if not sent:
                await asyncio.sleep(poll_s)
