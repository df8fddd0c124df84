"""Rate governor queue, shared state and heartbeats; fraud prevention header checks.

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
        "governor_queue",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("priority_class", sa.SmallInteger, nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "enqueued_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.func.clock_timestamp(),
        ),
        sa.Column("replica_id", sa.Text, nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index(
        "ix_governor_queue_waiting",
        "governor_queue",
        ["priority_class", "due_at", "enqueued_at"],
        postgresql_where=sa.text("granted_at IS NULL"),
    )
    op.create_table(
        "governor_state",
        sa.Column("id", sa.SmallInteger, primary_key=True),
        sa.Column("last_grant_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paused_until", sa.DateTime(timezone=True), nullable=True),
    )
    op.execute("INSERT INTO governor_state (id) VALUES (1)")
    op.create_table(
        "governor_replicas",
        sa.Column("replica_id", sa.Text, primary_key=True),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "fraud_header_checks",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column(
            "checked_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("tenant_id", sa.Text, nullable=True),
        sa.Column("vrn", sa.Text, nullable=True),
        sa.Column("connection_method", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("mode", sa.Text, nullable=False),
        sa.Column("result", sa.Text, nullable=False),
        sa.Column("sent", sa.Boolean, nullable=False),
        sa.Column("errors", JSONB, nullable=False),
        sa.Column("warnings", JSONB, nullable=False),
    )
    op.create_index("ix_fraud_header_checks_checked_at", "fraud_header_checks", ["checked_at"])


def downgrade() -> None:
    op.drop_index("ix_fraud_header_checks_checked_at", table_name="fraud_header_checks")
    op.drop_table("fraud_header_checks")
    op.drop_table("governor_replicas")
    op.drop_table("governor_state")
    op.drop_index("ix_governor_queue_waiting", table_name="governor_queue")
    op.drop_table("governor_queue")
