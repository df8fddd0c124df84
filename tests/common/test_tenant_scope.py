"""The tenant scope reaches PostgreSQL per transaction and a row-level security policy
built on it isolates tenants for a role that is neither owner nor superuser."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text

from services.common.database import Database, async_url
from services.common.tenant_scope import acting_for, system_scope
from tests.conftest import fresh_database, sql


async def _settings(db: Database) -> tuple[str | None, str | None]:
    async with db.transaction() as session:
        row = (
            await session.execute(
                text(
                    "SELECT current_setting('app.tenant_id', true),"
                    " current_setting('app.system_scope', true)"
                )
            )
        ).one()
    return row[0] or None, row[1] or None


async def test_scope_is_set_per_transaction_and_never_outlives_it(pg_url: str) -> None:
    db = Database(await fresh_database(pg_url), pool_size=1, max_overflow=0)
    try:
        with acting_for("tenant-a"):
            assert await _settings(db) == ("tenant-a", None)
        # Same pooled connection, next transaction: nothing carried over.
        assert await _settings(db) == (None, None)
        with system_scope("test sweep"):
            assert await _settings(db) == (None, "on")
        assert await _settings(db) == (None, None)
    finally:
        await db.dispose()


async def test_policy_on_the_scope_isolates_tenants_for_the_app_role(pg_url: str) -> None:
    url = await fresh_database(pg_url)
    role = f"scope_app_{uuid.uuid4().hex[:8]}"
    await sql(
        url,
        f"""
        CREATE ROLE {role} LOGIN;
        CREATE TABLE notes (id serial PRIMARY KEY, tenant_id text NOT NULL, body text);
        ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
        ALTER TABLE notes FORCE ROW LEVEL SECURITY;
        CREATE POLICY tenant_isolation ON notes
            USING (current_setting('app.system_scope', true) = 'on'
                   OR tenant_id = current_setting('app.tenant_id', true))
            WITH CHECK (current_setting('app.system_scope', true) = 'on'
                        OR tenant_id = current_setting('app.tenant_id', true));
        GRANT SELECT, INSERT, UPDATE, DELETE ON notes TO {role};
        GRANT USAGE ON SEQUENCE notes_id_seq TO {role};
        INSERT INTO notes (tenant_id, body) VALUES ('a', 'a1'), ('b', 'b1');
        """,
    )
    app = Database(async_url(url).set(username=role, password=None).render_as_string(False))

    async def bodies() -> list[str]:
        async with app.transaction() as s:
            return list((await s.execute(text("SELECT body FROM notes ORDER BY id"))).scalars())

    try:
        assert await bodies() == []  # no scope: nothing visible
        with acting_for("a"):
            assert await bodies() == ["a1"]
            async with app.transaction() as s:
                changed = await s.execute(text("UPDATE notes SET body = 'x' WHERE tenant_id = 'b'"))
                assert changed.rowcount == 0  # type: ignore[attr-defined]
            with pytest.raises(Exception, match="row-level security"):
                async with app.transaction() as s:
                    await s.execute(text("INSERT INTO notes (tenant_id, body) VALUES ('b', 'x')"))
        with system_scope("test sweep"):
            assert await bodies() == ["a1", "b1"]
    finally:
        await app.dispose()
