"""The cache's paths against the simulator: hit, miss, `no-cache`, stale during an HMRC
outage (with its age, in a header and a field), a plain problem when nothing is cached,
and many identical requests coalesced into one HMRC call — in one process and across two
replicas sharing the database."""

from __future__ import annotations

import asyncio
from datetime import date

import httpx

from services.obligations.app import create_app
from tests.auth.conftest import bearer
from tests.hmrc_gateway import devices
from tests.obligations.conftest import Platform
from tests.serving import serve

YEAR = date.today().year - 1
WINDOW = {"from": f"{YEAR}-01-01", "to": f"{YEAR}-12-31"}


async def end_outage(platform: Platform) -> None:
    await platform.control("DELETE", "/outage")
    # The gateway's breaker stays open a moment after HMRC recovers.
    await asyncio.sleep(1.2)


async def test_no_cache_refreshes_and_outage_serves_stale(platform: Platform) -> None:
    tenant = await platform.tenant()
    [vrn] = tenant.vrns
    path = f"/v1/vat/{vrn}/obligations"
    before = await platform.hmrc_calls("obligations")
    first = await platform.get(path, tenant.token, params=WINDOW)
    assert first.headers["x-cache-status"] == "miss"
    hit = await platform.get(path, tenant.token, params=WINDOW)
    assert hit.headers["x-cache-status"] == "hit"
    assert await platform.hmrc_calls("obligations") == before + 1

    forced = await platform.get(
        path, tenant.token, headers={"Cache-Control": "no-cache"}, params=WINDOW
    )
    assert forced.status_code == 200, forced.text
    assert forced.headers["x-cache-status"] == "miss"
    assert forced.json()["freshness"]["fetched_at"] > first.json()["freshness"]["fetched_at"]
    assert await platform.hmrc_calls("obligations") == before + 2

    await platform.control("PUT", "/outage", json={"seconds": 60})
    try:
        await asyncio.sleep(1.1)  # so the answer has an age
        stale = await platform.get(
            path, tenant.token, headers={"Cache-Control": "no-cache"}, params=WINDOW
        )
        assert stale.status_code == 200, stale.text
        body = stale.json()
        assert body["obligations"] == forced.json()["obligations"]
        assert body["freshness"]["stale"] is True
        assert body["freshness"]["stale_reason"].startswith("HMRC_")
        assert body["freshness"]["age_seconds"] >= 1
        assert stale.headers["x-cache-status"] == "stale"
        assert int(stale.headers["age"]) >= 1
        assert stale.headers["x-stale-reason"] == body["freshness"]["stale_reason"]

        # Nothing cached for this window: a clear problem, not an opaque failure.
        other = {"from": f"{YEAR - 1}-01-01", "to": f"{YEAR - 1}-12-31"}
        r = await platform.get(path, tenant.token, params=other)
        assert r.status_code == 503, r.text
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["code"] == "HMRC_UNAVAILABLE_NO_CACHED_DATA"
        assert r.json()["hmrc_code"].startswith("HMRC_")
        assert r.headers["retry-after"]
    finally:
        await end_outage(platform)
    fresh = await platform.get(
        path, tenant.token, headers={"Cache-Control": "no-cache"}, params=WINDOW
    )
    assert fresh.status_code == 200, fresh.text
    assert fresh.json()["freshness"]["stale"] is False


async def test_hmrc_throttling_serves_stale(platform: Platform) -> None:
    tenant = await platform.tenant()
    [vrn] = tenant.vrns
    path = f"/v1/vat/{vrn}/obligations"
    assert (await platform.get(path, tenant.token, params=WINDOW)).status_code == 200
    await platform.control(
        "PUT", "/faults/obligations", json={"error_rate": 1.0, "error_status": 429}
    )
    try:
        r = await platform.get(
            path, tenant.token, headers={"Cache-Control": "no-cache"}, params=WINDOW
        )
        assert r.status_code == 200, r.text
        assert r.json()["freshness"]["stale"] is True, r.json()["freshness"]
    finally:
        await platform.control("DELETE", "/faults/obligations")
        await end_outage(platform)


async def test_100_concurrent_requests_one_hmrc_call(platform: Platform) -> None:
    tenant = await platform.tenant()
    [vrn] = tenant.vrns
    # Slow HMRC down a little so every request arrives while the refresh is in flight.
    await platform.control("PUT", "/faults/obligations", json={"latency_ms": 300})
    try:
        before = await platform.hmrc_calls("obligations")
        answers = await asyncio.gather(
            *(
                platform.get(f"/v1/vat/{vrn}/obligations", tenant.token, params=WINDOW)
                for _ in range(100)
            )
        )
    finally:
        await platform.control("DELETE", "/faults/obligations")
    assert {r.status_code for r in answers} == {200}
    assert await platform.hmrc_calls("obligations") == before + 1
    assert len({r.json()["freshness"]["fetched_at"] for r in answers}) == 1


async def test_two_replicas_refresh_once(platform: Platform) -> None:
    """A second replica on the same database: the advisory lock lets one of them call HMRC."""
    tenant = await platform.tenant()
    [vrn] = tenant.vrns
    await platform.control("PUT", "/faults/obligations", json={"latency_ms": 300})
    second = create_app(platform.app.state.reads.settings)
    try:
        async with serve(second) as url, httpx.AsyncClient(base_url=url, timeout=60) as other:
            headers = {**devices.web_headers(), **bearer(tenant.token)}
            before = await platform.hmrc_calls("obligations")
            path = f"/v1/vat/{vrn}/obligations"
            answers = await asyncio.gather(
                *(
                    (platform.http if i % 2 else other).get(path, params=WINDOW, headers=headers)
                    for i in range(40)
                )
            )
    finally:
        await platform.control("DELETE", "/faults/obligations")
    assert {r.status_code for r in answers} == {200}, [r.text for r in answers][:2]
    assert await platform.hmrc_calls("obligations") == before + 1
