"""The append-only, hash-chained audit log, its per-subject keys and its guard rails.

Revision ID: 0002
Revises: 0001

`mtd_audit_app` is the role the service acts as (SET LOCAL ROLE in every transaction): it
may INSERT and SELECT, nothing else. Triggers refuse UPDATE/DELETE/TRUNCATE from anyone,
owner included, except inside the SECURITY DEFINER maintenance functions (retention and
erasure), and even those may only clear content, never touch the chain columns.
See docs/decisions/0020-audit-chain.md.
"""

import re

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

APP_ROLE = "mtd_audit_app"
TZ = sa.DateTime(timezone=True)

# Columns retention and erasure may clear; everything else is the chain and never changes.
CONTENT_COLUMNS = (
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
    "content",
    "subject_key_id",
    "sealed",
)


def upgrade() -> None:
    op.execute(
        f"""
        DO $$ BEGIN
            CREATE ROLE {APP_ROLE} NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
        END $$;
        """
    )
    op.create_table(
        "audit_subject_keys",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("tenant_id", sa.Text, nullable=False),  # '' for platform-level records
        sa.Column("data_subject", sa.Text, nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary, nullable=True),
        sa.Column("created_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.Column("erased_at", TZ, nullable=True),
    )
    op.create_index(
        "ux_audit_subject_keys_live",
        "audit_subject_keys",
        ["tenant_id", "data_subject"],
        unique=True,
        postgresql_where=sa.text("erased_at IS NULL"),
    )
    op.create_table(
        "audit_records",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("record_id", UUID(as_uuid=True), nullable=False, unique=True),
        sa.Column("message_id", sa.Text, nullable=False, unique=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("record_class", sa.Text, nullable=False),
        sa.Column("tenant_id", sa.Text, nullable=True),
        sa.Column("occurred_at", TZ, nullable=False),
        sa.Column("ingested_at", TZ, nullable=False),
        sa.Column("subject", sa.Text, nullable=True),
        sa.Column("vrn", sa.Text, nullable=True),
        sa.Column("period_key", sa.Text, nullable=True),
        sa.Column("submission_id", sa.Text, nullable=True),
        sa.Column("trace_id", sa.Text, nullable=True),
        sa.Column("correlation_id", sa.Text, nullable=True),
        sa.Column("method", sa.Text, nullable=True),
        sa.Column("endpoint", sa.Text, nullable=True),
        sa.Column("response_status", sa.Integer, nullable=True),
        sa.Column("fraud_result", sa.Text, nullable=True),
        sa.Column("action", sa.Text, nullable=True),
        sa.Column("actor_id", sa.Text, nullable=True),
        sa.Column("content", sa.Text, nullable=True),
        sa.Column(
            "subject_key_id",
            UUID(as_uuid=True),
            sa.ForeignKey("audit_subject_keys.id"),
            nullable=True,
        ),
        sa.Column("sealed", sa.LargeBinary, nullable=True),
        sa.Column("content_digest", sa.LargeBinary, nullable=False),
        sa.Column("prev_hash", sa.LargeBinary, nullable=False),
        sa.Column("hash", sa.LargeBinary, nullable=False),
        sa.Column("pruned_at", TZ, nullable=True),
    )
    op.create_index("ix_audit_records_tenant_seq", "audit_records", ["tenant_id", "seq"])
    op.create_index(
        "ix_audit_records_tenant_kind_seq", "audit_records", ["tenant_id", "kind", "seq"]
    )
    op.create_index("ix_audit_records_vrn", "audit_records", ["vrn", "occurred_at"])
    op.create_index("ix_audit_records_submission", "audit_records", ["submission_id"])
    op.create_index("ix_audit_records_trace", "audit_records", ["trace_id"])
    op.create_index("ix_audit_records_correlation", "audit_records", ["correlation_id"])
    op.create_index("ix_audit_records_key", "audit_records", ["subject_key_id"])
    op.create_index(
        "ix_audit_records_retention",
        "audit_records",
        ["record_class", "occurred_at"],
        postgresql_where=sa.text("pruned_at IS NULL"),
    )
    op.create_table(
        "audit_bodies",
        sa.Column("seq", sa.BigInteger, sa.ForeignKey("audit_records.seq"), primary_key=True),
        sa.Column("sealed", sa.LargeBinary, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_index("ix_audit_bodies_created", "audit_bodies", ["created_at"])

    unchanged = " OR ".join(
        f"NEW.{c} IS DISTINCT FROM OLD.{c}"
        for c in (
            "seq",
            "record_id",
            "message_id",
            "kind",
            "record_class",
            "tenant_id",
            "occurred_at",
            "ingested_at",
            "content_digest",
            "prev_hash",
            "hash",
        )
    )
    cleared = " OR ".join(f"NEW.{c} IS NOT NULL" for c in CONTENT_COLUMNS)
    # Built from this module's constants only, never from input.
    ddl = f"""
        CREATE FUNCTION audit_in_maintenance() RETURNS boolean LANGUAGE sql STABLE AS $$
            SELECT coalesce(current_setting('mtd_audit.maintenance', true), '') = 'on'
        $$;

        CREATE FUNCTION audit_records_guard() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP <> 'UPDATE' OR NOT audit_in_maintenance() THEN
                RAISE EXCEPTION 'audit records are append-only (% refused)', TG_OP
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            IF {unchanged} OR {cleared} THEN
                RAISE EXCEPTION 'maintenance may only clear the content of audit records'
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            RETURN NEW;
        END $$;

        CREATE FUNCTION audit_bodies_guard() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'DELETE' AND audit_in_maintenance() THEN
                RETURN OLD;
            END IF;
            RAISE EXCEPTION 'audit bodies are append-only (% refused)', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END $$;

        CREATE FUNCTION audit_subject_keys_guard() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'UPDATE' AND audit_in_maintenance()
               AND NEW.wrapped_key IS NULL AND NEW.erased_at IS NOT NULL
               AND NEW.id = OLD.id AND NEW.tenant_id = OLD.tenant_id
               AND NEW.data_subject = OLD.data_subject THEN
                RETURN NEW;
            END IF;
            RAISE EXCEPTION 'subject keys may only be destroyed by erasure (% refused)', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END $$;

        CREATE FUNCTION audit_no_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'audit tables cannot be truncated'
                USING ERRCODE = 'insufficient_privilege';
        END $$;

        CREATE TRIGGER audit_records_guard BEFORE UPDATE OR DELETE ON audit_records
            FOR EACH ROW EXECUTE FUNCTION audit_records_guard();
        CREATE TRIGGER audit_bodies_guard BEFORE UPDATE OR DELETE ON audit_bodies
            FOR EACH ROW EXECUTE FUNCTION audit_bodies_guard();
        CREATE TRIGGER audit_subject_keys_guard BEFORE UPDATE OR DELETE ON audit_subject_keys
            FOR EACH ROW EXECUTE FUNCTION audit_subject_keys_guard();
        CREATE TRIGGER audit_records_no_truncate BEFORE TRUNCATE ON audit_records
            FOR EACH STATEMENT EXECUTE FUNCTION audit_no_truncate();
        CREATE TRIGGER audit_bodies_no_truncate BEFORE TRUNCATE ON audit_bodies
            FOR EACH STATEMENT EXECUTE FUNCTION audit_no_truncate();
        CREATE TRIGGER audit_subject_keys_no_truncate BEFORE TRUNCATE ON audit_subject_keys
            FOR EACH STATEMENT EXECUTE FUNCTION audit_no_truncate();

        -- Retention: clear the content of one record class older than the cutoff. The chain
        -- columns (and so `verify`) are untouched.
        CREATE FUNCTION audit_prune_records(p_class text, p_cutoff timestamptz)
        RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
        DECLARE pruned bigint;
        BEGIN
            PERFORM set_config('mtd_audit.maintenance', 'on', true);
            DELETE FROM audit_bodies b USING audit_records r
             WHERE b.seq = r.seq AND r.record_class = p_class AND r.occurred_at < p_cutoff;
            UPDATE audit_records SET {", ".join(f"{c} = NULL" for c in CONTENT_COLUMNS)},
                   pruned_at = now()
             WHERE record_class = p_class AND occurred_at < p_cutoff AND pruned_at IS NULL;
            GET DIAGNOSTICS pruned = ROW_COUNT;
            PERFORM set_config('mtd_audit.maintenance', '', true);
            RETURN pruned;
        END $$;

        -- Retention of raw HMRC bodies, which are kept for much less time than the records.
        CREATE FUNCTION audit_drop_bodies(p_cutoff timestamptz)
        RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
        DECLARE dropped bigint;
        BEGIN
            PERFORM set_config('mtd_audit.maintenance', 'on', true);
            DELETE FROM audit_bodies WHERE created_at < p_cutoff;
            GET DIAGNOSTICS dropped = ROW_COUNT;
            PERFORM set_config('mtd_audit.maintenance', '', true);
            RETURN dropped;
        END $$;

        -- Right to erasure: destroy the subject's data keys; the ciphertext stays, unreadable.
        CREATE FUNCTION audit_erase_subject(p_tenant text, p_subject text)
        RETURNS SETOF uuid LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
        BEGIN
            PERFORM set_config('mtd_audit.maintenance', 'on', true);
            RETURN QUERY
                UPDATE audit_subject_keys SET wrapped_key = NULL, erased_at = now()
                 WHERE tenant_id = p_tenant AND data_subject = p_subject AND erased_at IS NULL
             RETURNING id;
            PERFORM set_config('mtd_audit.maintenance', '', true);
        END $$;

        REVOKE ALL ON FUNCTION audit_prune_records(text, timestamptz) FROM PUBLIC;
        REVOKE ALL ON FUNCTION audit_drop_bodies(timestamptz) FROM PUBLIC;
        REVOKE ALL ON FUNCTION audit_erase_subject(text, text) FROM PUBLIC;
        GRANT EXECUTE ON FUNCTION audit_prune_records(text, timestamptz) TO {APP_ROLE};
        GRANT EXECUTE ON FUNCTION audit_drop_bodies(timestamptz) TO {APP_ROLE};
        GRANT EXECUTE ON FUNCTION audit_erase_subject(text, text) TO {APP_ROLE};
        GRANT SELECT, INSERT ON audit_records, audit_bodies, audit_subject_keys, inbox
            TO {APP_ROLE};
        """  # noqa: S608
    # asyncpg runs one statement per call; split where a new top-level statement starts.
    for statement in re.split(r";\s*\n(?=\s*(?:CREATE|REVOKE|GRANT|--))", ddl):
        op.execute(statement)


def downgrade() -> None:
    # The role is cluster-wide and may serve other databases; only this database's grants go.
    op.execute(f"REVOKE ALL ON inbox FROM {APP_ROLE}")
    op.execute("DROP FUNCTION audit_erase_subject(text, text)")
    op.execute("DROP FUNCTION audit_drop_bodies(timestamptz)")
    op.execute("DROP FUNCTION audit_prune_records(text, timestamptz)")
    op.drop_table("audit_bodies")
    op.drop_table("audit_records")
    op.drop_table("audit_subject_keys")
    for name in (
        "audit_no_truncate",
        "audit_subject_keys_guard",
        "audit_bodies_guard",
        "audit_records_guard",
        "audit_in_maintenance",
    ):
        op.execute(f"DROP FUNCTION {name}()")
