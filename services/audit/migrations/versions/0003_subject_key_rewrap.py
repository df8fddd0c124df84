"""Subject keys may be re-wrapped under a new key-encryption key (KEK rotation).

The guard on `audit_subject_keys` allowed one update only: erasure (key destroyed). It now
also allows replacing a live wrapped key by another, only through
`audit_rewrap_subject_key`, which compares and sets (an erased key is never brought back,
a key changed meanwhile is left alone).

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

APP_ROLE = "mtd_audit_app"

GUARD = """
CREATE OR REPLACE FUNCTION audit_subject_keys_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.id = OLD.id AND NEW.tenant_id = OLD.tenant_id
       AND NEW.data_subject = OLD.data_subject THEN
        IF audit_in_maintenance()
           AND NEW.wrapped_key IS NULL AND NEW.erased_at IS NOT NULL THEN
            RETURN NEW;
        END IF;
        IF coalesce(current_setting('mtd_audit.rewrap', true), '') = 'on'
           AND OLD.erased_at IS NULL AND NEW.erased_at IS NULL
           AND OLD.wrapped_key IS NOT NULL AND NEW.wrapped_key IS NOT NULL THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION 'subject keys may only be destroyed by erasure or re-wrapped (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$
"""

REWRAP = """
CREATE FUNCTION audit_rewrap_subject_key(p_id uuid, p_old bytea, p_new bytea)
RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE changed integer;
BEGIN
    PERFORM set_config('mtd_audit.rewrap', 'on', true);
    UPDATE audit_subject_keys SET wrapped_key = p_new
     WHERE id = p_id AND wrapped_key = p_old AND erased_at IS NULL;
    GET DIAGNOSTICS changed = ROW_COUNT;
    PERFORM set_config('mtd_audit.rewrap', '', true);
    RETURN changed = 1;
END $$
"""

OLD_GUARD = """
CREATE OR REPLACE FUNCTION audit_subject_keys_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND audit_in_maintenance()
       AND NEW.wrapped_key IS NULL AND NEW.erased_at IS NOT NULL
       AND NEW.id = OLD.id AND NEW.tenant_id = OLD.tenant_id
       AND NEW.data_subject = OLD.data_subject THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'subject keys may only be destroyed by erasure (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$
"""


def upgrade() -> None:
    op.execute(GUARD)
    op.execute(REWRAP)
    op.execute("REVOKE ALL ON FUNCTION audit_rewrap_subject_key(uuid, bytea, bytea) FROM PUBLIC")
    op.execute(
        f"GRANT EXECUTE ON FUNCTION audit_rewrap_subject_key(uuid, bytea, bytea) TO {APP_ROLE}"
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION audit_rewrap_subject_key(uuid, bytea, bytea)")
    op.execute(OLD_GUARD)
