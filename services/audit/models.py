"""The audit log's tables (created by migration 0002, which also adds the guard triggers,
the maintenance functions and the application role)."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

TZ = sa.DateTime(timezone=True)


class AuditBase(DeclarativeBase):
    metadata = sa.MetaData()


class SubjectKey(AuditBase):
    """A data key per (tenant, data subject), wrapped by the key-encryption key. Erasure
    destroys it (wrapped_key NULL); what it sealed becomes unreadable."""

    __tablename__ = "audit_subject_keys"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(sa.Text)  # '' for platform-level records
    data_subject: Mapped[str] = mapped_column(sa.Text)
    wrapped_key: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    created_at: Mapped[datetime] = mapped_column(TZ, server_default=sa.func.now())
    erased_at: Mapped[datetime | None] = mapped_column(TZ)


class AuditRecord(AuditBase):
    """One link of the chain. `content` (canonical JSON) and `sealed` (AES-GCM ciphertext of
    the personal part) are covered by `content_digest`; the chain hashes the digest, so
    clearing content (retention) or destroying a key (erasure) leaves the chain intact."""

    __tablename__ = "audit_records"

    seq: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    record_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), unique=True)
    message_id: Mapped[str] = mapped_column(sa.Text, unique=True)
    kind: Mapped[str] = mapped_column(sa.Text)
    record_class: Mapped[str] = mapped_column(sa.Text)
    tenant_id: Mapped[str | None] = mapped_column(sa.Text)
    occurred_at: Mapped[datetime] = mapped_column(TZ)
    ingested_at: Mapped[datetime] = mapped_column(TZ)
    # Copies of content fields, for filtering; `verify` checks them against `content`.
    subject: Mapped[str | None] = mapped_column(sa.Text)
    vrn: Mapped[str | None] = mapped_column(sa.Text)
    period_key: Mapped[str | None] = mapped_column(sa.Text)
    submission_id: Mapped[str | None] = mapped_column(sa.Text)
    trace_id: Mapped[str | None] = mapped_column(sa.Text)
    correlation_id: Mapped[str | None] = mapped_column(sa.Text)
    method: Mapped[str | None] = mapped_column(sa.Text)
    endpoint: Mapped[str | None] = mapped_column(sa.Text)
    response_status: Mapped[int | None] = mapped_column(sa.Integer)
    fraud_result: Mapped[str | None] = mapped_column(sa.Text)
    action: Mapped[str | None] = mapped_column(sa.Text)
    actor_id: Mapped[str | None] = mapped_column(sa.Text)
    content: Mapped[str | None] = mapped_column(sa.Text)
    subject_key_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), sa.ForeignKey("audit_subject_keys.id")
    )
    sealed: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    content_digest: Mapped[bytes] = mapped_column(sa.LargeBinary)
    prev_hash: Mapped[bytes] = mapped_column(sa.LargeBinary)
    hash: Mapped[bytes] = mapped_column(sa.LargeBinary)
    pruned_at: Mapped[datetime | None] = mapped_column(TZ)


class AuditBody(AuditBase):
    """Raw HMRC request/response bodies, sealed; kept for less time than their record. The
    record's content holds the body's SHA-256, so a retained body is verifiable too."""

    __tablename__ = "audit_bodies"

    seq: Mapped[int] = mapped_column(
        sa.BigInteger, sa.ForeignKey("audit_records.seq"), primary_key=True
    )
    sealed: Mapped[bytes] = mapped_column(sa.LargeBinary)
    created_at: Mapped[datetime] = mapped_column(TZ)


records: sa.Table = AuditRecord.__table__  # type: ignore[assignment]
bodies: sa.Table = AuditBody.__table__  # type: ignore[assignment]
subject_keys: sa.Table = SubjectKey.__table__  # type: ignore[assignment]

# Content fields copied into indexed columns (column name == content key).
INDEXED_FIELDS = (
    "subject",
    "vrn",
    "period_key",
    "submission_id",
    "trace_id",
    "correlation_id",
    "method",
    "endpoint",
    "response_status",
    "fraud_result",
    "action",
    "actor_id",
)
