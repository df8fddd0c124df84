"""Tables of the HMRC gateway: the rate governor's shared queue and state, and the fraud
prevention header checks kept for the HMRC-approval evidence."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# "No due date" sorts after every real one.
NO_DUE_DATE = datetime.fromisoformat("9999-12-31T00:00:00+00:00")


class GatewayBase(DeclarativeBase):
    pass


metadata = GatewayBase.metadata


class GovernorQueue(GatewayBase):
    """One row per call waiting for (or just granted) an HMRC request slot."""

    __tablename__ = "governor_queue"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    priority_class: Mapped[int] = mapped_column(sa.SmallInteger, nullable=False)
    due_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), nullable=False)
    enqueued_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), nullable=False, server_default=sa.func.clock_timestamp()
    )
    replica_id: Mapped[str] = mapped_column(sa.Text, nullable=False)
    granted_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))

    __table_args__ = (
        sa.Index(
            "ix_governor_queue_waiting",
            "priority_class",
            "due_at",
            "enqueued_at",
            postgresql_where=sa.text("granted_at IS NULL"),
        ),
    )


class GovernorState(GatewayBase):
    """The one row every replica shares: the last grant and a global pause after a 429."""

    __tablename__ = "governor_state"

    id: Mapped[int] = mapped_column(sa.SmallInteger, primary_key=True)
    last_grant_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    paused_until: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))


class GovernorReplica(GatewayBase):
    """Heartbeats: rows of a replica that stopped beating are cleaned up."""

    __tablename__ = "governor_replicas"

    replica_id: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), nullable=False)


class FraudHeaderCheck(GatewayBase):
    """A validation of the headers sent (or refused) for one HMRC call."""

    __tablename__ = "fraud_header_checks"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    checked_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    )
    tenant_id: Mapped[str | None] = mapped_column(sa.Text)
    vrn: Mapped[str | None] = mapped_column(sa.Text)
    connection_method: Mapped[str] = mapped_column(sa.Text, nullable=False)
    source: Mapped[str] = mapped_column(sa.Text, nullable=False)  # local | hmrc
    mode: Mapped[str] = mapped_column(sa.Text, nullable=False)  # strict | advisory
    result: Mapped[str] = mapped_column(sa.Text, nullable=False)
    sent: Mapped[bool] = mapped_column(sa.Boolean, nullable=False)
    errors: Mapped[list[Any]] = mapped_column(JSONB, nullable=False)
    warnings: Mapped[list[Any]] = mapped_column(JSONB, nullable=False)
