"""Right to erasure and retention: the person's data becomes unreadable (in the API and in
the database), content past its retention goes, and the chain still verifies."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from services.audit import retention
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

EMAIL = "jo.bloggs@example.com"


async def raw_rows(url: str) -> list[str]:
    """Every stored byte of the log, as an attacker with the database would see it."""
    dsn = async_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT r::text FROM audit_records r UNION ALL SELECT b::text FROM audit_bodies b"
            " UNION ALL SELECT k::text FROM audit_subject_keys k"
        )
    finally:
        await conn.close()
    return [r[0] for r in rows]


async def events(audit: AuditApi, headers: dict[str, str], **params: Any) -> list[Any]:
    r = await audit.http.get("/v1/audit/events", headers=headers, params=params)
    assert r.status_code == 200, r.text
    items: list[Any] = r.json()["items"]
    return items


async def test_erasure_makes_the_persons_data_unreadable_and_the_chain_verifiable(
    audit: AuditApi, publish: Publish, mint: TokenMint, audit_db_url: str
) -> None:
    tenant, vrn = str(uuid.uuid4()), new_vrn()
    person, bystander = str(uuid.uuid4()), str(uuid.uuid4())
    await publish("audit.auth.user_created", privileged_action(tenant, user_id=person, email=EMAIL))
    await publish("audit.hmrc.exchange", hmrc_exchange(tenant, vrn, data_subject=f"user:{person}"))
    await publish(
        "audit.auth.user_created",
        privileged_action(tenant, user_id=bystander, email="someone@example.com"),
    )
    await audit.wait_for_records(3)
    auditor = mint.headers(["auditor"], tenant)
    before = await events(audit, auditor)
    assert before[0]["personal"]["details"]["email"] == EMAIL
    # Plaintext never reaches the database: personal data is sealed from the start.
    assert not any(EMAIL in row or "198.51.100.7" in row for row in await raw_rows(audit_db_url))

    # Only an admin may erase; another tenant's admin finds nothing to erase.
    body = {"data_subject": f"user:{person}"}
    r = await audit.http.post("/v1/audit/erasures", headers=auditor, json=body)
    assert r.status_code == 403
    other_admin = mint.headers(["tenant_admin"], str(uuid.uuid4()))
    r = await audit.http.post("/v1/audit/erasures", headers=other_admin, json=body)
    assert r.status_code == 404 and r.json()["code"] == "DATA_SUBJECT_UNKNOWN"

    admin = mint.headers(["tenant_admin"], tenant, subject="admin-7")
    r = await audit.http.post("/v1/audit/erasures", headers=admin, json=body)
    assert r.status_code == 200, r.text
    assert r.json()["keys_destroyed"] == 1 and r.json()["records_made_unreadable"] == 2

    after = await events(audit, auditor)
    assert [i["personal_state"] for i in after[:3]] == ["erased", "erased", "available"]
    assert after[0]["personal"] is None and after[1]["body_state"] == "erased"
    assert after[2]["personal"]["details"]["email"] == "someone@example.com"
    # What stays public is what was never personal: who acted, on what, when.
    assert after[0]["action"] == "user_created" and after[1]["response_status"] == 200
    # The erasure itself is in the chain, naming the subject only by a digest.
    note = after[3]
    assert note["action"] == "data_subject_erased" and note["actor_id"] == "admin-7"
    assert person not in str(note)

    dsn = async_url(audit_db_url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    try:
        keys = await conn.fetch(
            "SELECT wrapped_key FROM audit_subject_keys WHERE data_subject = $1", f"user:{person}"
        )
    finally:
        await conn.close()
    assert [k["wrapped_key"] for k in keys] == [None]

    r = await audit.http.get("/v1/audit/verify", headers=auditor)
    assert r.json()["ok"] is True and r.json()["records_checked"] == 4

    # New records about the same person get a fresh key and are readable again.
    await publish("audit.auth.mfa_enrolled", privileged_action(tenant, user_id=person, email=EMAIL))
    await audit.wait_for_records(5)
    latest = (await events(audit, auditor))[-1]
    assert latest["personal_state"] == "available"


async def test_retention_prunes_by_class_and_keeps_the_chain_verifiable(
    audit: AuditApi, publish: Publish, mint: TokenMint
) -> None:
    tenant, vrn = str(uuid.uuid4()), new_vrn()
    submission = str(uuid.uuid4())
    await publish("audit.hmrc.exchange", hmrc_exchange(tenant, vrn))  # read: 2 years
    await publish(
        "audit.hmrc.exchange",
        hmrc_exchange(tenant, vrn, method="POST", endpoint="/organisations/vat/{vrn}/returns"),
    )  # a return: 6 years
    await publish("audit.submission.accepted", state_change(tenant, vrn, submission, "accepted"))
    await publish("audit.auth.user_created", privileged_action(tenant))  # 3 years
    await audit.wait_for_records(4)
    auditor = mint.headers(["auditor"], tenant)

    now = datetime.now(UTC)
    done = await retention.apply(audit.ctx, now + timedelta(days=100))
    assert done == {"vat_record": 0, "hmrc_exchange": 0, "privileged_action": 0, "raw_body": 2}
    items = await events(audit, auditor)
    assert [i.get("body_state") for i in items[:2]] == ["expired", "expired"]
    assert items[1]["personal_state"] == "available"  # headers outlive the raw bodies

    done = await retention.apply(audit.ctx, now + timedelta(days=800))
    assert done["hmrc_exchange"] == 1 and done["vat_record"] == 0
    done = await retention.apply(audit.ctx, now + timedelta(days=1200))
    assert done["privileged_action"] == 1 and done["vat_record"] == 0
    items = await events(audit, auditor)
    assert [i["pruned"] for i in items] == [True, False, False, True]
    assert "vrn" not in items[0] and items[1]["vrn"] == vrn
    # Pruned records no longer match content filters.
    assert len(await events(audit, auditor, vrn=vrn)) == 2

    done = await retention.apply(audit.ctx, now + timedelta(days=6 * 366 + 1))
    assert done["vat_record"] == 2
    r = await audit.http.get("/v1/audit/verify", headers=auditor)
    assert r.json()["ok"] is True and r.json()["records_checked"] == 4
