"""Break-glass grants and every use made of them.

Revision ID: 0004
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0004"
down_revision = "0002"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)
NOW = sa.text("now()")


def upgrade() -> None:
    op.create_table(
        "break_glass_grants",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("tenant_id", UUID(as_uuid=True), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("requested_by", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("duration_seconds", sa.Integer, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("requested_at", TZ, nullable=False, server_default=NOW),
        sa.Column("decided_by", sa.Text, nullable=True),
        sa.Column("decided_at", TZ, nullable=True),
        sa.Column("expires_at", TZ, nullable=True),
        sa.Column("revoked_by", sa.Text, nullable=True),
        sa.Column("revoked_at", TZ, nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'denied', 'revoked')",
            name="ck_break_glass_grants_status",
        ),
    )
    op.create_index("ix_break_glass_grants_tenant_id", "break_glass_grants", ["tenant_id"])
    op.create_index("ix_break_glass_grants_requested_by", "break_glass_grants", ["requested_by"])
    op.create_table(
        "break_glass_uses",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column(
            "grant_id",
            UUID(as_uuid=True),
            sa.ForeignKey("break_glass_grants.id"),
            nullable=False,
        ),
        sa.Column("tenant_id", UUID(as_uuid=True), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("used_by", sa.Text, nullable=False),
        sa.Column("service", sa.Text, nullable=False),
        sa.Column("method", sa.Text, nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("request_id", sa.Text, nullable=True),
        sa.Column("refusal", sa.Text, nullable=True),
        sa.Column("used_at", TZ, nullable=False, server_default=NOW),
    )
    op.create_index(
        "ix_break_glass_uses_grant_used_at", "break_glass_uses", ["grant_id", "used_at"]
    )


def downgrade() -> None:
    op.drop_table("break_glass_uses")
    op.drop_table("break_glass_grants")
