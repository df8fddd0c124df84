"""The platform's audit event contract: what producers publish to the AUDIT stream.

Producers write these through the transactional outbox (`outbox.add(session,
subject_for(event), payload(event))`) so an action and its audit record commit together.
The audit service consumes `audit.>`; the subject says which model the payload follows:

- `audit.hmrc.exchange` — one HMRC API exchange (the gateway);
- `audit.submission.<to_state>` — a submission state change (the submission service);
- `audit.<service>.<action>` — a privileged action (auth publishes `audit.auth.<action>`).

`hmrc` and `submission` are reserved as the second token for the first two kinds.
Models accept fields they do not know (kept by the audit log), so producers can add
detail before the audit service learns to index it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

SUBJECT_PREFIX = "audit"
HMRC_EXCHANGE_SUBJECT = "audit.hmrc.exchange"
SUBMISSION_STATE_PREFIX = "audit.submission."
RESERVED_SERVICES = frozenset({"hmrc", "submission"})

EventKind = Literal["hmrc_exchange", "submission_state", "privileged_action"]


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


class _Event(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    # Whose personal data the record holds, when the producer knows better than the
    # audit service's default (see `services.audit.records.data_subject`): `user:<id>`,
    # `vrn:<vrn>` … Erasure works per (tenant, data subject).
    data_subject: str | None = Field(default=None, max_length=200)

    @field_validator("*", mode="after")
    @classmethod
    def _times_in_utc(cls, value: Any) -> Any:
        return _utc(value) if isinstance(value, datetime) else value


class Actor(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    kind: str = Field(min_length=1, max_length=40)  # "user", "client", "system"
    id: str = Field(min_length=1, max_length=200)
    tenant_id: str | None = None


class Target(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    type: str = Field(min_length=1, max_length=80)
    id: str = Field(min_length=1, max_length=200)


class PrivilegedAction(_Event):
    """Who did what to what: published as `audit.<service>.<action>`."""

    action: str = Field(min_length=1, max_length=120)
    service: str = Field(min_length=1, max_length=80)
    occurred_at: AwareDatetime
    actor: Actor
    tenant_id: str | None = None  # None for platform-level actions
    target: Target
    details: dict[str, Any] = Field(default_factory=dict)
    trace_id: str | None = None


class FraudHeaderIssue(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    code: str = "UNSPECIFIED"
    message: str = ""
    headers: list[str] = Field(default_factory=list)


class FraudValidation(BaseModel):
    """The gateway's check of the fraud prevention headers it sent (or refused to send)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    result: Literal["valid", "valid_with_warnings", "invalid", "not_checked"]
    errors: list[FraudHeaderIssue] = Field(default_factory=list)
    warnings: list[FraudHeaderIssue] = Field(default_factory=list)

    @field_validator("errors", "warnings", mode="before")
    @classmethod
    def _plain_messages(cls, value: Any) -> Any:
        # Accept bare strings from simple validators as issues without a code.
        if isinstance(value, list):
            return [{"message": v} if isinstance(v, str) else v for v in value]
        return value


class HmrcExchange(_Event):
    """One request to HMRC and its response (or transport failure): `audit.hmrc.exchange`."""

    tenant_id: str = Field(min_length=1)
    vrn: str | None = Field(default=None, pattern=r"^\d{9}$")
    period_key: str | None = Field(default=None, max_length=8)
    submission_id: str | None = None
    method: str = Field(min_length=3, max_length=10)
    endpoint: str = Field(
        min_length=1, max_length=200
    )  # template, e.g. /organisations/vat/{vrn}/returns
    path: str = Field(min_length=1, max_length=2000)
    request_headers: dict[str, str] = Field(default_factory=dict)
    fraud_validation: FraudValidation | None = None
    request_body: Any = None
    response_status: int | None = Field(default=None, ge=100, le=599)  # None: no response
    response_headers: dict[str, str] = Field(default_factory=dict)
    response_body: Any = None
    error: str | None = None  # transport failure (timeout, reset) when there is no response
    correlation_id: str | None = None  # HMRC's X-CorrelationId
    started_at: AwareDatetime
    finished_at: AwareDatetime
    duration_ms: float = Field(ge=0)
    attempt: int = Field(default=1, ge=1)
    trace_id: str | None = None
    occurred_at: AwareDatetime
    service: str = "hmrc_gateway"


class SubmissionStateChange(_Event):
    """A VAT return moved between states: `audit.submission.<to_state>`."""

    tenant_id: str = Field(min_length=1)
    vrn: str = Field(pattern=r"^\d{9}$")
    period_key: str = Field(min_length=1, max_length=8)
    submission_id: str = Field(min_length=1)
    from_state: str | None = None
    to_state: str = Field(min_length=1, max_length=40, pattern=r"^[a-z_]+$")
    reason: str | None = None
    code: str | None = None
    # e.g. HMRC's receipt (formBundleNumber, processingDate, chargeRefNumber) on acceptance.
    details: dict[str, Any] = Field(default_factory=dict)
    trace_id: str | None = None
    occurred_at: AwareDatetime
    service: str = "submission"


AuditEvent = PrivilegedAction | HmrcExchange | SubmissionStateChange


def privileged_action_subject(service: str, action: str) -> str:
    if service in RESERVED_SERVICES:
        raise ValueError(f"`{service}` is reserved; publish privileged actions as another name")
    return f"{SUBJECT_PREFIX}.{service}.{action}"


def submission_state_subject(to_state: str) -> str:
    return f"{SUBMISSION_STATE_PREFIX}{to_state}"


def subject_for(event: AuditEvent) -> str:
    if isinstance(event, HmrcExchange):
        return HMRC_EXCHANGE_SUBJECT
    if isinstance(event, SubmissionStateChange):
        return submission_state_subject(event.to_state)
    return privileged_action_subject(event.service, event.action)


def kind_of(subject: str) -> EventKind:
    """Which model a message on `subject` follows."""
    if subject == HMRC_EXCHANGE_SUBJECT:
        return "hmrc_exchange"
    if subject.startswith(SUBMISSION_STATE_PREFIX):
        return "submission_state"
    return "privileged_action"


MODELS: dict[EventKind, type[AuditEvent]] = {
    "hmrc_exchange": HmrcExchange,
    "submission_state": SubmissionStateChange,
    "privileged_action": PrivilegedAction,
}


def parse(subject: str, payload: Any) -> AuditEvent:
    """Validate a payload against the model its subject names (pydantic ValidationError)."""
    return MODELS[kind_of(subject)].model_validate(payload)


def payload(event: AuditEvent) -> dict[str, Any]:
    """The JSON payload to publish (for `outbox.add`)."""
    return event.model_dump(mode="json", exclude_none=False)
