"""Submission-aware status (a `submission.accepted` fact marks the period until HMRC shows it
fulfilled) and what is due soon across a tenant's VRNs."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from nats.aio.client import Client

from services.common import jsonutil
from services.common.database import Database
from tests.auth.conftest import bearer
from tests.hmrc_gateway import devices
from tests.hmrc_gateway.test_internal_api import vat_return
from tests.obligations.conftest import OBLIGATIONS_ID, Platform

OPEN = {"status": "O"}
NO_CACHE = {"Cache-Control": "no-cache"}


async def submit_through_gateway(platform: Platform, tenant_id: str, vrn: str, key: str) -> None:
    """The return lands at HMRC the way the submission worker sends it."""
    secret = platform.app.state.reads.settings.client_secret.get_secret_value()
    token = await platform.auth.client_token(OBLIGATIONS_ID, secret)
    r = await platform.http.post(
        f"{platform.gateway_url}/internal/v1/vat/{vrn}/returns",
        json={
            "tenant_id": tenant_id,
            "return": vat_return(key),
            "device": devices.device("DESKTOP_APP_VIA_SERVER"),
            "connection": devices.connection(),
        },
        headers=bearer(token),
    )
    assert r.status_code == 201, r.text


async def publish_accepted(nc: Client, fact: dict[str, Any], msg_id: str) -> None:
    js = nc.jetstream()
    await js.publish(
        "submission.accepted", jsonutil.dumps(fact).encode(), headers={"Nats-Msg-Id": msg_id}
    )


async def marks(db_url: str, vrn: str) -> int:
    db = Database(db_url)
    try:
        async with db.engine.connect() as conn:
            count = await conn.execute(
                sa.text("SELECT count(*) FROM submitted_periods WHERE vrn = :vrn"), {"vrn": vrn}
            )
            return int(count.scalar_one())
    finally:
        await db.dispose()


async def test_submitted_awaiting_hmrc_until_fulfilled(platform: Platform, nc: Client) -> None:
    tenant = await platform.tenant()
    [vrn] = tenant.vrns
    path = f"/v1/vat/{vrn}/obligations"
    r = await platform.get(path, tenant.token, params=OPEN)
    assert r.status_code == 200, r.text
    today = datetime.now(UTC).date()
    ended = [o for o in r.json()["obligations"] if date.fromisoformat(o["end"]) < today]
    target = ended[0]
    assert target["platformStatus"] == "OPEN"

    await platform.control("PUT", "/fulfilment-lag", json={"seconds": 3600})
    try:
        await submit_through_gateway(platform, tenant.id, vrn, target["periodKey"])
        fact = {
            "submission_id": str(uuid.uuid4()),
            "tenant_id": tenant.id,
            "vrn": vrn,
            "period_key": target["periodKey"],
            "due_date": target["due"],
            "from_state": "submitting",
            "to_state": "accepted",
            "reason": None,
            "code": None,
            "occurred_at": datetime.now(UTC).isoformat(),
        }
        msg_id = str(uuid.uuid4())
        await publish_accepted(nc, fact, msg_id)
        await publish_accepted(nc, fact, str(uuid.uuid4()))  # a replay: changes nothing
        for _ in range(100):
            # HMRC still says open (no-cache proves it), and the platform knows better.
            r = await platform.get(path, tenant.token, headers=NO_CACHE, params=OPEN)
            got = {o["periodKey"]: o for o in r.json()["obligations"]}[target["periodKey"]]
            if got["platformStatus"] != "OPEN":
                break
            await asyncio.sleep(0.1)
        assert got["status"] == "O"
        assert got["platformStatus"] == "SUBMITTED_AWAITING_HMRC"
        assert got["submission"]["submission_id"] == fact["submission_id"]
        r = await platform.get("/v1/obligations/due", tenant.token, params={"within": "366"})
        [due] = [d for d in r.json()["due"] if d["periodKey"] == target["periodKey"]]
        assert due["platformStatus"] == "SUBMITTED_AWAITING_HMRC"
        assert await marks(platform.db_url, vrn) == 1
    finally:
        await platform.control("PUT", "/fulfilment-lag", json={"seconds": 0})

    # HMRC now reports the period fulfilled: the mark has done its job and goes.
    r = await platform.get(path, tenant.token, headers=NO_CACHE, params=OPEN)
    assert target["periodKey"] not in {o["periodKey"] for o in r.json()["obligations"]}
    assert await marks(platform.db_url, vrn) == 0
    window = {"from": target["start"], "to": target["end"]}
    r = await platform.get(path, tenant.token, params=window)
    got = {o["periodKey"]: o for o in r.json()["obligations"]}[target["periodKey"]]
    assert (got["status"], got["platformStatus"]) == ("F", "FULFILLED")


async def test_due_across_vrns_earliest_first(platform: Platform) -> None:
    tenant = await platform.tenant(vrns=2)
    r = await platform.get("/v1/obligations/due", tenant.token, params={"within": "366"})
    assert r.status_code == 200, r.text
    body = r.json()
    items = body["due"]
    assert {i["vrn"] for i in items} == set(tenant.vrns)
    dues = [i["due"] for i in items]
    assert dues == sorted(dues)
    today = date.fromisoformat(body["today"])
    for item in items:
        assert item["status"] == "O"
        days = (date.fromisoformat(item["due"]) - today).days
        assert item["daysRemaining"] == days and item["overdue"] == (days < 0)
        assert days <= 366
    assert any(i["overdue"] for i in items), "a calendar from a year ago has overdue periods"
    assert {f["vrn"] for f in body["freshness"]} == set(tenant.vrns)
    assert body["errors"] == []

    # A narrower window: only what is overdue or due within a week.
    r = await platform.get("/v1/obligations/due", tenant.token, params={"within": "7"})
    assert all(i["daysRemaining"] <= 7 for i in r.json()["due"])
    assert r.json()["freshness"][0]["source"] == "cache"
    r = await platform.get("/v1/obligations/due", tenant.token, params={"within": "-1"})
    assert (r.status_code, r.json()["code"]) == (422, "INVALID_REQUEST")
