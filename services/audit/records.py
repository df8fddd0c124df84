"""From an audit event to a record draft: which class it belongs to, whose data it holds,
what is indexed, what is public, what is personal (sealed) and what is a raw body.

Secrets are masked here again, whatever the producer sent: this is the second line of
masking, and a producer's bug must not put a token into a six-year record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.common.audit_events import (
    AuditEvent,
    EventKind,
    HmrcExchange,
    PrivilegedAction,
    SubmissionStateChange,
)
from services.common.masking import mask

# Record classes, each with its own retention (AuditSettings.retention_days).
VAT_RECORD = "vat_record"  # returns, receipts, their HMRC exchanges and state changes
HMRC_EXCHANGE = "hmrc_exchange"
PRIVILEGED_ACTION = "privileged_action"
RECORD_CLASSES = (VAT_RECORD, HMRC_EXCHANGE, PRIVILEGED_ACTION)


@dataclass
class Draft:
    message_id: str
    kind: EventKind
    record_class: str
    tenant_id: str | None
    occurred_at: datetime
    data_subject: str
    # Public content: hashed as canonical JSON; the indexed fields are copied to columns.
    public: dict[str, Any]
    # Personal data, sealed with the subject's key; None when there is none.
    personal: dict[str, Any] | None = None
    # Raw HMRC bodies, sealed and stored apart (shorter retention).
    body: dict[str, Any] | None = None
    indexed: dict[str, Any] = field(default_factory=dict)


def _masked_dict(value: Any) -> dict[str, Any]:
    masked = mask(value)
    return dict(masked) if isinstance(masked, dict) else {}


def _extras(event: AuditEvent) -> dict[str, Any]:
    return _masked_dict(dict(event.model_extra or {}))


def _trace_from(headers: dict[str, str]) -> str | None:
    # W3C traceparent: version-traceid-spanid-flags
    parts = headers.get("traceparent", "").split("-")
    return parts[1] if len(parts) == 4 and len(parts[1]) == 32 else None


def data_subject(event: AuditEvent) -> str:
    """Whose personal data a record holds: what erasure is asked for."""
    if event.data_subject:
        return event.data_subject
    if isinstance(event, PrivilegedAction):
        if event.target.type == "user":
            return f"user:{event.target.id}"
        if event.actor.kind == "user":
            return f"user:{event.actor.id}"
        return f"{event.target.type}:{event.target.id}"
    if event.vrn:
        return f"vrn:{event.vrn}"
    return "tenant"


def draft(subject: str, message_id: str, event: AuditEvent, headers: dict[str, str]) -> Draft:
    trace_id = getattr(event, "trace_id", None) or _trace_from(headers)
    if isinstance(event, HmrcExchange):
        return _exchange(subject, message_id, event, trace_id)
    if isinstance(event, SubmissionStateChange):
        return _state_change(subject, message_id, event, trace_id)
    return _action(subject, message_id, event, trace_id)


def _exchange(subject: str, message_id: str, e: HmrcExchange, trace_id: str | None) -> Draft:
    # A return sent to HMRC is a VAT record, kept six years. Judged by the URL path: the
    # gateway names endpoints ("submit_return"), other producers may send path templates.
    is_return = e.method.upper() == "POST" and e.path.split("?")[0].rstrip("/").endswith("/returns")
    fraud = e.fraud_validation
    indexed: dict[str, Any] = {
        "subject": subject,
        "vrn": e.vrn,
        "period_key": e.period_key,
        "submission_id": e.submission_id,
        "trace_id": trace_id,
        "correlation_id": e.correlation_id,
        "method": e.method.upper(),
        "endpoint": e.endpoint,
        "response_status": e.response_status,
        "fraud_result": fraud.result if fraud else None,
        "action": None,
        "actor_id": None,
    }
    public = {
        **indexed,
        "service": e.service,
        "path": e.path,
        "request_header_names": sorted(e.request_headers),
        "fraud_validation": mask(fraud.model_dump(mode="json")) if fraud else None,
        "error": mask(e.error),
        "started_at": e.started_at.isoformat(),
        "finished_at": e.finished_at.isoformat(),
        "duration_ms": e.duration_ms,
        "attempt": e.attempt,
    }
    personal = {
        "request_headers": _masked_dict(e.request_headers),
        "response_headers": _masked_dict(e.response_headers),
        "extra": _extras(e),
    }
    body = {"request_body": mask(e.request_body), "response_body": mask(e.response_body)}
    return Draft(
        message_id=message_id,
        kind="hmrc_exchange",
        record_class=VAT_RECORD if is_return else HMRC_EXCHANGE,
        tenant_id=e.tenant_id,
        occurred_at=e.occurred_at,
        data_subject=data_subject(e),
        public=public,
        personal=personal,
        body=body,
        indexed=indexed,
    )


def _state_change(
    subject: str, message_id: str, e: SubmissionStateChange, trace_id: str | None
) -> Draft:
    indexed: dict[str, Any] = {
        "subject": subject,
        "vrn": e.vrn,
        "period_key": e.period_key,
        "submission_id": e.submission_id,
        "trace_id": trace_id,
        "correlation_id": None,
        "method": None,
        "endpoint": None,
        "response_status": None,
        "fraud_result": None,
        "action": None,
        "actor_id": None,
    }
    public = {
        **indexed,
        "service": e.service,
        "from_state": e.from_state,
        "to_state": e.to_state,
        "reason": mask(e.reason),
        "code": e.code,
        "details": _masked_dict(e.details),
    }
    extra = _extras(e)
    return Draft(
        message_id=message_id,
        kind="submission_state",
        record_class=VAT_RECORD,
        tenant_id=e.tenant_id,
        occurred_at=e.occurred_at,
        data_subject=data_subject(e),
        public=public,
        personal={"extra": extra} if extra else None,
        indexed=indexed,
    )


def _action(subject: str, message_id: str, e: PrivilegedAction, trace_id: str | None) -> Draft:
    indexed: dict[str, Any] = {
        "subject": subject,
        "vrn": None,
        "period_key": None,
        "submission_id": None,
        "trace_id": trace_id,
        "correlation_id": None,
        "method": None,
        "endpoint": None,
        "response_status": None,
        "fraud_result": None,
        "action": e.action,
        "actor_id": e.actor.id,
    }
    public = {
        **indexed,
        "service": e.service,
        "actor": {"kind": e.actor.kind, "id": e.actor.id, "tenant_id": e.actor.tenant_id},
        "target": {"type": e.target.type, "id": e.target.id},
    }
    # Details may name the person (email, name, IP): sealed, erasable.
    personal = {"details": _masked_dict(e.details), "extra": _extras(e)}
    return Draft(
        message_id=message_id,
        kind="privileged_action",
        record_class=PRIVILEGED_ACTION,
        tenant_id=e.tenant_id,
        occurred_at=e.occurred_at,
        data_subject=data_subject(e),
        public=public,
        personal=personal,
        indexed=indexed,
    )
