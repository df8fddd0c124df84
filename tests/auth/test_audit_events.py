"""Privileged actions reach the AUDIT stream through the outbox: one event per action,
naming actor and target, with no secret in it."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from nats.aio.client import Client
from nats.js.api import ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from services.common.audit_events import parse
from tests.auth.conftest import AuthApi, bearer


async def audit_events(nc: Client, tenant_id: str, want: int, timeout: float = 15) -> list[Any]:
    """Events for `tenant_id` on `audit.auth.>`, waiting until at least `want` arrived."""
    js = nc.jetstream()
    found: list[Any] = []
    async with asyncio.timeout(timeout):
        while True:
            try:
                sub = await js.pull_subscribe(
                    "audit.auth.>",
                    stream="AUDIT",
                    config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL),
                )
            except NotFoundError:
                await asyncio.sleep(0.1)
                continue
            found = []
            while True:
                try:
                    msgs = await sub.fetch(200, timeout=0.5)
                except TimeoutError:
                    break
                for msg in msgs:
                    body = json.loads(msg.data)
                    if body.get("tenant_id") == tenant_id:
                        found.append(
                            {
                                **body,
                                "_subject": msg.subject,
                                "_id": (msg.headers or {}).get("Nats-Msg-Id"),
                            }
                        )
                    await msg.ack()
            await sub.unsubscribe()
            if len(found) >= want:
                return found
            await asyncio.sleep(0.2)


async def test_privileged_actions_are_published_as_audit_events(auth: AuthApi, nc: Client) -> None:
    tenant = await auth.create_tenant()
    admin_id, admin_secret = await auth.create_client(tenant, ["tenant_admin"])
    admin = await auth.client_token(admin_id, admin_secret)
    user = await auth.create_user(tenant, ["viewer"])
    r = await auth.http.put(
        f"/v1/tenants/{tenant}/users/{user.id}/roles",
        json={"roles": ["preparer", "viewer"]},
        headers=bearer(admin),
    )
    assert r.status_code == 200 and r.json()["roles"] == ["preparer", "viewer"]
    r = await auth.http.post(
        f"/v1/tenants/{tenant}/clients/{admin_id}/secret", headers=bearer(admin)
    )
    assert r.status_code == 200
    auth.remember(r.json()["client_secret"])
    await auth.enrol(user)

    events = await audit_events(nc, tenant, want=6)
    by_action = {e["action"]: e for e in events}
    assert {e["_subject"] for e in events} >= {
        "audit.auth.tenant_created",
        "audit.auth.client_created",
        "audit.auth.user_created",
        "audit.auth.role_changed",
        "audit.auth.client_secret_rotated",
        "audit.auth.mfa_enrolled",
    }
    change = by_action["role_changed"]
    assert change["actor"] == {"kind": "client", "id": admin_id, "tenant_id": tenant}
    assert change["target"] == {"type": "user", "id": user.id}
    assert change["details"] == {"before": ["viewer"], "after": ["preparer", "viewer"]}
    assert change["data_subject"] == f"user:{user.id}"
    assert by_action["client_secret_rotated"]["target"]["id"] == admin_id
    for event in events:  # every event follows the platform's audit contract
        parse(event["_subject"], {k: v for k, v in event.items() if not k.startswith("_")})
    assert by_action["tenant_created"]["actor"]["id"] == "bootstrap-admin"
    assert len({e["_id"] for e in events}) == len(events)  # one message id per event
    raw = json.dumps(events)
    for secret in auth.issued:
        assert secret not in raw
