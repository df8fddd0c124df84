"""Baseline: the simulator's persisted state, one JSON document per record.

Applications, test users, grants, tokens, authorisation codes, stored returns and the
control configuration are kept as (kind, key) -> document; the simulator serves from memory
and writes every change through (docs/decisions/0002-hmrc-simulator-state.md).

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "simulator_state",
        sa.Column("kind", sa.Text, primary_key=True),
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("value", JSONB, nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )


def downgrade() -> None:
    op.drop_table("simulator_state")
