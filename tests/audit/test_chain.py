"""Events flow from JetStream into the chain; `verify` recomputes it and names the first
link an attacker with database access changed; the application role cannot change rows."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from services.common.database import async_url
from tests.audit.conftest import (
    AuditApi,
    Publish,
    TokenMint,
    hmrc_exchange,
    new_vrn,
    privileged_action,
    state_change,
)
from tests.conftest import sql

SUBJECTS = ("audit.hmrc.exchange", "audit.auth.user_created", "audit.submission.accepted")


async def seed(audit: AuditApi, publish: Publish, tenant: str, n: int = 6) -> str:
    vrn = new_vrn()
    for i in range(n):
        match i % 3:
            case 0:
                await publish(SUBJECTS[0], hmrc_exchange(tenant, vrn))
            case 1:
                await publish(SUBJECTS[1], privileged_action(tenant, email=f"p{i}@example.com"))
            case _:
                await publish(SUBJECTS[2], state_change(tenant, vrn, str(uuid.uuid4()), "accepted"))
    await audit.wait_for_records(n)
    return vrn


async def verify(audit: AuditApi, mint: TokenMint, tenant: str) -> dict[str, object]:
    r = await audit.http.get("/v1/audit/verify", headers=mint.headers(["auditor"], tenant))
    assert r.status_code == 200, r.text
    body: dict[str, object] = r.json()
    return body


async def test_ingested_events_form_a_chain_that_verifies(
    audit: AuditApi, publish: Publish, mint: TokenMint
) -> None:
    tenant = str(uuid.uuid4())
    await seed(audit, publish, tenant, 9)
    result = await verify(audit, mint, tenant)
    assert result["ok"] is True
    assert result["records_checked"] == 9
    assert result["head_seq"] == 9
    assert result["first_broken"] is None


TAMPERING = {
    # A changed value in the hashed content.
    "content_altered": (
        "UPDATE audit_records SET content = replace(content, '\"response_status\":200', "
        "'\"response_status\":500'), response_status = 500 WHERE seq = 4"
    ),
    # A changed copy in an indexed column, content untouched (misleads filters).
    "index_altered": "UPDATE audit_records SET vrn = '999999999' WHERE seq = 4",
    # New content and a recomputed content digest: the link hash still gives it away.
    "hash_mismatch": (
        "UPDATE audit_records SET content = replace(content, '\"attempt\":1', '\"attempt\":2'),"
        " content_digest = sha256(convert_to('mtd-audit-content-v1' || chr(10) || "
        "replace(content, '\"attempt\":1', '\"attempt\":2'), 'UTF8')) WHERE seq = 4"
    ),
    # Ciphertext of another record swapped in.
    "sealed_altered": (
        "UPDATE audit_records SET sealed = (SELECT sealed FROM audit_records WHERE seq = 1) "
        "WHERE seq = 4"
    ),
    # A stored HMRC body replaced.
    "body_altered": (
        "UPDATE audit_bodies SET sealed = (SELECT sealed FROM audit_bodies WHERE seq = 1) "
        "WHERE seq = 4"
    ),
    # A record removed from the middle.
    "missing_record": (
        "DELETE FROM audit_bodies WHERE seq = 4; DELETE FROM audit_records WHERE seq = 4"
    ),
}


@pytest.mark.parametrize("reason", sorted(TAMPERING))
async def test_verify_names_the_first_tampered_link(
    audit: AuditApi, publish: Publish, mint: TokenMint, audit_db_url: str, reason: str
) -> None:
    tenant = str(uuid.uuid4())
    await seed(audit, publish, tenant, 6)
    assert (await verify(audit, mint, tenant))["ok"] is True

    # The attacker owns the database: switches triggers off, then edits rows.
    await sql(
        audit_db_url,
        f"BEGIN; SET LOCAL session_replication_role = replica; {TAMPERING[reason]}; COMMIT",
    )
    result = await verify(audit, mint, tenant)
    assert result["ok"] is False
    broken = result["first_broken"]
    assert isinstance(broken, dict)
    assert broken["seq"] == 4
    assert broken["reason"] == reason
    assert result["records_checked"] == 3


async def as_role(url: str, role: str | None, statement: str) -> None:
    dsn = async_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            if role:
                await conn.execute(f"SET LOCAL ROLE {role}")
            await conn.execute(statement)
    finally:
        await conn.close()


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_records SET vrn = '123456789'",
        "DELETE FROM audit_records",
        "TRUNCATE audit_records CASCADE",
        "UPDATE audit_subject_keys SET wrapped_key = NULL",
        "DELETE FROM audit_bodies",
    ],
)
async def test_application_role_and_owner_cannot_change_the_log(
    audit: AuditApi, publish: Publish, audit_db_url: str, statement: str
) -> None:
    await seed(audit, publish, str(uuid.uuid4()), 3)
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await as_role(audit_db_url, audit.settings.db_role, statement)
    # The owner has the grants but the triggers refuse outside the maintenance functions.
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await as_role(audit_db_url, None, statement)
    # Maintenance may clear content, never rewrite the chain.
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await as_role(
            audit_db_url,
            None,
            "SELECT set_config('mtd_audit.maintenance', 'on', true); "
            "UPDATE audit_records SET hash = prev_hash",
        )
    assert await audit.record_count() == 3
