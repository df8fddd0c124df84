"""Submissions and their timestamped state transitions.

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
        "submissions",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("tenant_id", sa.Text, nullable=False),
        sa.Column("vrn", sa.String(9), nullable=False),
        sa.Column("period_key", sa.String(4), nullable=False),
        sa.Column("due_date", sa.Date, nullable=False),
        sa.Column("idempotency_key", sa.String(255), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("vat_return", JSONB, nullable=False),
        sa.Column("client_context", JSONB, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.Text),
        sa.Column("claimed_at", sa.DateTime(timezone=True)),
        sa.Column("error_code", sa.Text),
        sa.Column("error_message", sa.Text),
        sa.Column("receipt", JSONB),
        sa.Column("trace_context", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("tenant_id", "idempotency_key", name="uq_submissions_idempotency"),
    )
    op.create_index(
        "uq_submissions_live_period",
        "submissions",
        ["vrn", "period_key"],
        unique=True,
        postgresql_where=sa.text("state <> 'rejected'"),
    )
    op.create_index(
        "ix_submissions_queue",
        "submissions",
        ["due_date", "created_at"],
        postgresql_where=sa.text("state = 'queued'"),
    )
    op.create_table(
        "submission_transitions",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column(
            "submission_id", UUID(as_uuid=True), sa.ForeignKey("submissions.id"), nullable=False
        ),
        sa.Column("from_state", sa.String(16)),
        sa.Column("to_state", sa.String(16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("details", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
    )
    op.create_index(
        "ix_submission_transitions_submission_id", "submission_transitions", ["submission_id"]
    )


def downgrade() -> None:
    op.drop_table("submission_transitions")
    op.drop_table("submissions")
