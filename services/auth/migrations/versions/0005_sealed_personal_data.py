"""Users' e-mail and name sealed (envelope encryption), found by a keyed e-mail hash.

Existing rows are converted here, so the migration needs the service's KEKs and salts
(services/auth/keymaterial.py `keys_for_migration`) when there are users; an empty
database needs none.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

from services.auth.keymaterial import keys_for_migration
from services.auth.sealed import (
    EMAIL_PURPOSE,
    email_context,
    name_context,
    normalise_email,
)

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

users = sa.table(
    "users",
    sa.column("id"),
    sa.column("email", sa.Text),
    sa.column("name", sa.Text),
    sa.column("email_hash", sa.Text),
    sa.column("email_enc", sa.Text),
    sa.column("name_enc", sa.Text),
)


def upgrade() -> None:
    for column in ("email_hash", "email_enc", "name_enc"):
        op.add_column("users", sa.Column(column, sa.Text, nullable=True))
    conn = op.get_bind()
    rows = conn.execute(sa.select(users.c.id, users.c.email, users.c.name)).all()
    if rows:
        envelope, hasher = keys_for_migration()
        for user_id, email, name in rows:
            email = normalise_email(email)
            conn.execute(
                sa.update(users)
                .where(users.c.id == user_id)
                .values(
                    email_hash=hasher.hash(email, EMAIL_PURPOSE),
                    email_enc=envelope.encrypt(email, email_context(user_id)),
                    name_enc=envelope.encrypt(name, name_context(user_id)),
                )
            )
    for column in ("email_hash", "email_enc", "name_enc"):
        op.alter_column("users", column, nullable=False)
    op.create_unique_constraint("users_email_hash_key", "users", ["email_hash"])
    op.drop_column("users", "email")
    op.drop_column("users", "name")


def downgrade() -> None:
    op.add_column("users", sa.Column("email", sa.Text, nullable=True))
    op.add_column("users", sa.Column("name", sa.Text, nullable=True))
    conn = op.get_bind()
    rows = conn.execute(sa.select(users.c.id, users.c.email_enc, users.c.name_enc)).all()
    if rows:
        envelope, _ = keys_for_migration()
        for user_id, email_enc, name_enc in rows:
            conn.execute(
                sa.update(users)
                .where(users.c.id == user_id)
                .values(
                    email=envelope.decrypt(email_enc, email_context(user_id)),
                    name=envelope.decrypt(name_enc, name_context(user_id)),
                )
            )
    op.alter_column("users", "email", nullable=False)
    op.alter_column("users", "name", nullable=False)
    op.create_unique_constraint("users_email_key", "users", ["email"])
    op.drop_constraint("users_email_hash_key", "users", type_="unique")
    for column in ("email_hash", "email_enc", "name_enc"):
        op.drop_column("users", column)
