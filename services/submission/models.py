"""The submission service's tables. PostgreSQL holds the truth about every return."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Submission(Base):
    __tablename__ = "submissions"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "idempotency_key", name="uq_submissions_idempotency"),
        # One live submission per (VRN, period): a rejected one may be followed by another.
        sa.Index(
            "uq_submissions_live_period",
            "vrn",
            "period_key",
            unique=True,
            postgresql_where=sa.text("state <> 'rejected'"),
        ),
        # The queue: earliest due date first among what is ready now.
        sa.Index(
            "ix_submissions_queue",
            "due_date",
            "created_at",
            postgresql_where=sa.text("state = 'queued'"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(sa.Text)
    vrn: Mapped[str] = mapped_column(sa.String(9))
    period_key: Mapped[str] = mapped_column(sa.String(4))
    due_date: Mapped[date] = mapped_column(sa.Date)
    idempotency_key: Mapped[str] = mapped_column(sa.String(255))
    request_hash: Mapped[str] = mapped_column(sa.String(64))
    # The return exactly as HMRC will receive it (amounts as decimal strings).
    vat_return: Mapped[dict[str, Any]] = mapped_column(JSONB)
    # Device data and who asked, for the fraud prevention headers of the eventual call.
    client_context: Mapped[dict[str, Any]] = mapped_column(JSONB)
    state: Mapped[str] = mapped_column(sa.String(16))
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    # Set when a worker claims the return; a stale claim is re-driven by the sweeper.
    claimed_by: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    claimed_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    error_code: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    error_message: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    receipt: Mapped[dict[str, Any] | None] = mapped_column(JSONB, nullable=True)
    trace_context: Mapped[dict[str, str]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))


class Transition(Base):
    __tablename__ = "submission_transitions"

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=True)
    submission_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), sa.ForeignKey("submissions.id"), index=True
    )
    from_state: Mapped[str | None] = mapped_column(sa.String(16), nullable=True)
    to_state: Mapped[str] = mapped_column(sa.String(16))
    at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    reason: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
