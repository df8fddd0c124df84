"""One audit event per HMRC exchange (`audit.hmrc.exchange`), written through the outbox in
its own transaction, with every secret masked before it leaves the gateway."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from opentelemetry import trace

from services.common import audit_events
from services.common.database import Database
from services.common.logging import get_logger
from services.common.masking import mask
from services.common.messaging import outbox
from services.common.messaging.outbox import OutboxRelay
from services.hmrc_gateway.fraud_validation import ValidationResult
from services.hmrc_gateway.hmrc_json import to_plain

log = get_logger(__name__)


@dataclass
class Exchange:
    tenant_id: str
    vrn: str | None
    method: str
    endpoint: str  # template
    path: str
    request_headers: dict[str, str]
    request_body: Any
    started_at: datetime
    duration: float
    attempt: int
    status: int | None = None
    response_headers: dict[str, str] | None = None
    response_body: Any = None
    error: str | None = None
    correlation_id: str | None = None
    period_key: str | None = None
    submission_id: str | None = None
    fraud: ValidationResult | None = None


def _trace_id() -> str | None:
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else None


def event(x: Exchange) -> audit_events.HmrcExchange:
    finished = x.started_at + timedelta(seconds=x.duration)
    fraud = None
    if x.fraud is not None:
        fraud = audit_events.FraudValidation.model_validate(x.fraud.as_json())
    return audit_events.HmrcExchange(
        tenant_id=x.tenant_id,
        vrn=x.vrn,
        period_key=x.period_key,
        submission_id=x.submission_id,
        method=x.method,
        endpoint=x.endpoint,
        path=x.path,
        request_headers=mask(dict(x.request_headers)),
        fraud_validation=fraud,
        request_body=mask(to_plain(x.request_body)),
        response_status=x.status,
        response_headers=mask(dict(x.response_headers or {})),
        response_body=mask(to_plain(x.response_body)),
        error=x.error,
        correlation_id=x.correlation_id,
        started_at=x.started_at,
        finished_at=finished,
        duration_ms=round(x.duration * 1000, 3),
        attempt=x.attempt,
        trace_id=_trace_id(),
        occurred_at=datetime.now(UTC),
    )


class ExchangeAudit:
    def __init__(self, db: Database, relay: OutboxRelay | None) -> None:
        self.db = db
        self.relay = relay

    async def record(self, exchange: Exchange) -> None:
        record = event(exchange)
        async with self.db.transaction() as session:
            await outbox.add(
                session, audit_events.subject_for(record), audit_events.payload(record)
            )
        if self.relay is not None:
            self.relay.wake()
