"""Rotating the KEK that wraps the per-subject keys: a ring with key ids, online re-wrap
through the one database function allowed to touch a live key, erased keys left erased,
`retire` refusing while the old id still wraps anything, and the log readable after."""

from __future__ import annotations

import base64
import json
import os
import uuid

import httpx
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import SecretStr
from sqlalchemy.exc import DBAPIError

from services.audit import keys as keys_cli
from services.audit.app import create_app
from services.audit.models import subject_keys
from services.audit.sealing import VERSION
from services.common.envelope import new_keyring_entry, wrap_key
from tests.audit.conftest import AuditApi, Publish, TokenMint, privileged_action
from tests.audit.test_erasure_retention import events
from tests.serving import serve


async def test_kek_rotation_rewraps_live_subject_keys_and_keeps_the_log_readable(
    audit: AuditApi, publish: Publish, mint: TokenMint, capsys: pytest.CaptureFixture[str]
) -> None:
    tenant = str(uuid.uuid4())
    people = [str(uuid.uuid4()) for _ in range(3)]
    for person in people:
        await publish(
            "audit.auth.user_created",
            privileged_action(tenant, user_id=person, email=f"{person[:8]}@example.com"),
        )
    await audit.wait_for_records(3)
    assert audit.settings.key_encryption_key is not None
    bare = audit.settings.key_encryption_key.get_secret_value()
    # A subject key written before key ids existed (the old binary form, no kid).
    legacy_id = uuid.uuid4()
    legacy_blob = VERSION + wrap_key(
        AESGCM(base64.b64decode(bare)), os.urandom(32), legacy_id.bytes
    )
    async with audit.ctx.transaction() as session:
        await session.execute(
            sa.insert(subject_keys).values(
                id=legacy_id, tenant_id=tenant, data_subject="user:legacy", wrapped_key=legacy_blob
            )
        )
    # One person erased before the rotation: that key must stay destroyed.
    admin = mint.headers(["tenant_admin"], tenant, subject="admin-1")
    r = await audit.http.post(
        "/v1/audit/erasures", headers=admin, json={"data_subject": f"user:{people[0]}"}
    )
    assert r.status_code == 200, r.text

    # The ring: the old key (k0, as the bare key is called) and a new current one.
    k1 = new_keyring_entry("k1")
    rotated = audit.settings.model_copy(
        update={
            "key_encryption_key": SecretStr(f"k0:{bare},{k1}"),
            "key_encryption_key_current": "k1",
        }
    )
    assert await keys_cli.run(rotated, ["status"]) == 0
    before = json.loads(capsys.readouterr().out)["subject_keys"]
    assert before["k0"] >= 2 and before["legacy"] == 1  # the erased key counts nowhere
    assert await keys_cli.run(rotated, ["retire", "k0"]) == 1
    assert "subject keys are still wrapped by k0" in capsys.readouterr().err
    assert await keys_cli.run(rotated, ["rewrap", "--batch", "1"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["rewrapped"] == before["k0"] + 1 and out["unreadable"] == []
    assert await keys_cli.run(rotated, ["retire", "k0"]) == 0
    assert await keys_cli.run(rotated, ["retire", "legacy"]) == 0
    async with audit.ctx.transaction() as session:
        erased = await session.scalar(
            sa.select(subject_keys.c.wrapped_key).where(
                subject_keys.c.data_subject == f"user:{people[0]}"
            )
        )
    assert erased is None

    # Only k1 left: every live person's data still opens; the erased one stays erased.
    only_new = rotated.model_copy(update={"key_encryption_key": SecretStr(k1)})
    async with (
        serve(create_app(only_new)) as url,
        httpx.AsyncClient(base_url=url, timeout=10) as http,
    ):
        api = AuditApi(url, http, only_new, audit.ctx)
        items = await events(api, mint.headers(["auditor"], tenant))
    states = sorted(i["personal_state"] for i in items if i.get("action") == "user_created")
    assert states == ["available", "available", "erased"]


async def test_a_live_subject_key_cannot_be_replaced_directly(audit: AuditApi) -> None:
    key_id = uuid.uuid4()
    _, wrapped = audit.ctx.wrapper.new_key(key_id)
    async with audit.ctx.transaction() as session:
        await session.execute(
            sa.insert(subject_keys).values(
                id=key_id, tenant_id="t", data_subject="user:x", wrapped_key=wrapped
            )
        )
    replace = (
        sa.update(subject_keys)
        .where(subject_keys.c.id == key_id)
        .values(wrapped_key=b"\x02attacker")
    )
    # The application role has no UPDATE at all; even the owner meets the guard.
    with pytest.raises(DBAPIError, match="permission denied"):
        async with audit.ctx.transaction() as session:
            await session.execute(replace)
    with pytest.raises(DBAPIError, match="may only be destroyed by erasure or re-wrapped"):
        async with audit.ctx.db.transaction() as session:
            await session.execute(replace)
