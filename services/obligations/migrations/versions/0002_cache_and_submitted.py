"""The HMRC answer cache and the returns accepted but not yet fulfilled at HMRC.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cache_entries",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("vrn", sa.String(9), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("query", JSONB, nullable=False),
        sa.Column("body", JSONB, nullable=False),
        sa.Column("correlation_id", sa.String(100)),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_cache_entries_tenant_vrn", "cache_entries", ["tenant_id", "vrn"])
    op.create_table(
        "submitted_periods",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("vrn", sa.String(9), primary_key=True),
        sa.Column("period_key", sa.String(4), primary_key=True),
        sa.Column("submission_id", UUID(as_uuid=True), nullable=False),
        sa.Column("due_date", sa.Date),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("submitted_periods")
    op.drop_index("ix_cache_entries_tenant_vrn", table_name="cache_entries")
    op.drop_table("cache_entries")
