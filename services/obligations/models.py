"""Tables of the obligations service: cached HMRC answers and returns accepted by the
submission service that HMRC has not yet shown as fulfilled."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class ObligationsBase(DeclarativeBase):
    pass


metadata = ObligationsBase.metadata


class CacheEntry(ObligationsBase):
    """The last good HMRC answer for one (tenant, VRN, kind, query)."""

    __tablename__ = "cache_entries"

    key: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(sa.String(36), nullable=False)
    vrn: Mapped[str] = mapped_column(sa.String(9), nullable=False)
    kind: Mapped[str] = mapped_column(sa.String(20), nullable=False)
    query: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    body: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    correlation_id: Mapped[str | None] = mapped_column(sa.String(100))
    fetched_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), nullable=False)

    __table_args__ = (sa.Index("ix_cache_entries_tenant_vrn", "tenant_id", "vrn"),)


class SubmittedPeriod(ObligationsBase):
    """A return the platform saw accepted; cleared once HMRC reports the period fulfilled."""

    __tablename__ = "submitted_periods"

    tenant_id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    vrn: Mapped[str] = mapped_column(sa.String(9), primary_key=True)
    period_key: Mapped[str] = mapped_column(sa.String(4), primary_key=True)
    submission_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    due_date: Mapped[date | None] = mapped_column(sa.Date)
    accepted_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), nullable=False)
