"""The internal API against the HMRC simulator over real HTTP: every endpoint, HMRC's
errors mapped, the strict fraud-header policy, a token refresh, outcomes of a submission,
the audit record of each exchange, and that callers must hold the service role."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from services.common.database import Database
from services.common.messaging.tables import outbox
from tests.hmrc_gateway import devices
from tests.hmrc_gateway.conftest import Auth, Gateway, Simulator

TENANT = str(uuid.uuid4())


def vat_return(period_key: str, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "periodKey": period_key,
        "vatDueSales": "100.10",
        "vatDueAcquisitions": "0.00",
        "totalVatDue": "100.10",
        "vatReclaimedCurrPeriod": "40.00",
        "netVatDue": "60.10",
        "totalValueSalesExVAT": "500",
        "totalValuePurchasesExVAT": "200",
        "totalValueGoodsSuppliedExVAT": "0",
        "totalAcquisitionsExVAT": "0",
        "finalised": True,
    }
    body.update(changes)
    return body


def submit_body(period_key: str, **changes: Any) -> dict[str, Any]:
    return {
        "tenant_id": TENANT,
        "return": vat_return(period_key, **changes),
        "device": devices.device("DESKTOP_APP_VIA_SERVER"),
        "connection": devices.connection(),
        "due_date": "2026-12-07",
    }


async def audit_events(db_url: str) -> list[dict[str, Any]]:
    db = Database(db_url)
    try:
        async with db.sessions() as session:
            rows = await session.execute(
                sa.select(outbox.c.payload)
                .where(outbox.c.subject == "audit.hmrc.exchange")
                .order_by(outbox.c.created_at)
            )
            return [r[0] for r in rows]
    finally:
        await db.dispose()


async def test_obligations_with_header_device_data(gateway: Gateway, simulator: Simulator) -> None:
    vrn = await simulator.connect_user()
    r = await gateway.http.get(
        f"/internal/v1/vat/{vrn}/obligations",
        params={"tenant_id": TENANT, "from": "2026-01-01", "to": "2026-12-31"},
        headers=devices.web_headers(),
    )
    assert r.status_code == 200, r.text
    assert r.json()["obligations"]
    assert r.headers["x-correlationid"]
    events = await audit_events(gateway.db_url)
    assert len(events) == 1
    event = events[0]
    assert event["endpoint"] == "obligations" and event["response_status"] == 200
    assert event["correlation_id"] == r.headers["x-correlationid"]
    assert "authorization" not in {k.lower() for k in event["request_headers"]}
    sent = event["request_headers"]
    assert sent["Gov-Client-Public-IP"] == devices.CLIENT_IP
    assert sent["Gov-Client-Public-Port"] == str(devices.CLIENT_PORT)
    assert event["fraud_validation"]["result"] == "valid"


async def test_submit_view_and_duplicate(gateway: Gateway, simulator: Simulator) -> None:
    vrn = await simulator.connect_user()
    r = await gateway.http.post(f"/internal/v1/vat/{vrn}/returns", json=submit_body("#001"))
    assert r.status_code == 201, r.text
    answer = r.json()
    assert answer["outcome"] == "accepted"
    assert answer["receipt"]["formBundleNumber"]
    assert set(answer["receipt_headers"]) == {
        "Receipt-ID",
        "Receipt-Timestamp",
        "Receipt-Signature",
    }

    # '#' travels as %23; the amounts come back exact.
    r = await gateway.http.get(
        f"/internal/v1/vat/{vrn}/returns/%23001",
        params={"tenant_id": TENANT},
        headers=devices.web_headers(),
    )
    assert r.status_code == 200, r.text
    assert r.json()["periodKey"] == "#001"
    assert Decimal(r.json()["vatDueSales"]) == Decimal("100.10")

    r = await gateway.http.post(f"/internal/v1/vat/{vrn}/returns", json=submit_body("#001"))
    assert r.status_code == 403, r.text
    problem = r.json()
    assert problem["outcome"] == "rejected"
    assert problem["code"] == "DUPLICATE_SUBMISSION"
    assert problem["hmrc_code"] == "DUPLICATE_SUBMISSION"
    assert problem["action"]


async def test_view_return_never_submitted_is_404(gateway: Gateway, simulator: Simulator) -> None:
    vrn = await simulator.connect_user()
    r = await gateway.http.get(
        f"/internal/v1/vat/{vrn}/returns/18A1",
        params={"tenant_id": TENANT},
        headers=devices.web_headers(),
    )
    assert r.status_code == 404, r.text
    assert r.json()["code"] == "RETURN_NOT_FOUND"


async def test_liabilities_and_payments(gateway: Gateway, simulator: Simulator) -> None:
    vrn = await simulator.connect_user()
    params = {"tenant_id": TENANT, "from": "2017-02-27", "to": "2017-12-21"}
    for what in ("liabilities", "payments"):
        r = await gateway.http.get(
            f"/internal/v1/vat/{vrn}/{what}",
            params=params,
            headers={**devices.web_headers(), "Gov-Test-Scenario": "MULTIPLE_" + what.upper()},
        )
        if r.status_code != 200:  # the default answer of HMRC's sandbox is NOT_FOUND
            assert r.status_code == 404, r.text
            assert r.json()["code"] == "HMRC_NO_DATA_FOUND"
        else:
            assert r.json()[what]


async def test_hmrc_errors_are_mapped(gateway: Gateway, simulator: Simulator) -> None:
    vrn = await simulator.connect_user()
    cases = [
        ("obligations", "INSOLVENT_TRADER", 403, "INSOLVENT_TRADER"),
        ("obligations", "NOT_FOUND", 404, "HMRC_NO_DATA_FOUND"),
    ]
    for what, scenario, status, code in cases:
        r = await gateway.http.get(
            f"/internal/v1/vat/{vrn}/{what}",
            params={"tenant_id": TENANT, "from": "2026-01-01", "to": "2026-12-31"},
            headers={**devices.web_headers(), "Gov-Test-Scenario": scenario},
        )
        assert (r.status_code, r.json()["code"]) == (status, code), r.text
    r = await gateway.http.get(
        f"/internal/v1/vat/{vrn}/obligations",
        params={"tenant_id": TENANT, "from": "2026-12-31", "to": "2026-01-01"},
        headers=devices.web_headers(),
    )
    assert (r.status_code, r.json()["code"]) == (400, "INVALID_DATE_RANGE"), r.text

    submits = [
        ({"Gov-Test-Scenario": "TAX_PERIOD_NOT_ENDED"}, {}, 403, "TAX_PERIOD_NOT_ENDED"),
        ({}, {"totalVatDue": "1.00", "netVatDue": "39.00"}, 400, "VAT_TOTAL_VALUE"),
        ({}, {"finalised": False}, 403, "RETURN_NOT_FINALISED"),
    ]
    for headers, changes, status, code in submits:
        r = await gateway.http.post(
            f"/internal/v1/vat/{vrn}/returns", json=submit_body("A001", **changes), headers=headers
        )
        assert (r.status_code, r.json()["code"]) == (status, code), r.text
        assert r.json()["outcome"] == "rejected"


async def test_strict_mode_refuses_incomplete_headers(
    gateway: Gateway, simulator: Simulator
) -> None:
    vrn = await simulator.connect_user()
    headers = devices.web_headers()
    del headers["Gov-Client-Timezone"], headers["Forwarded"]
    r = await gateway.http.get(
        f"/internal/v1/vat/{vrn}/obligations",
        params={"tenant_id": TENANT, "from": "2026-01-01", "to": "2026-12-31"},
        headers=headers,
    )
    assert r.status_code == 422, r.text
    named = {h for e in r.json()["errors"] for h in e["headers"]}
    assert {"gov-client-timezone", "gov-client-public-ip"} <= named
    assert await audit_events(gateway.db_url) == []  # nothing went to HMRC


async def test_bad_device_data_is_422_not_500(gateway: Gateway, simulator: Simulator) -> None:
    vrn = await simulator.connect_user()
    body = submit_body("A001")
    body["device"]["timezone"] = "Europe/London"
    body["device"]["mac_addresses"] = ["not-a-mac"]
    r = await gateway.http.post(f"/internal/v1/vat/{vrn}/returns", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "INVALID_DEVICE_DATA"


async def test_stale_token_is_refreshed_once(gateway: Gateway, simulator: Simulator) -> None:
    vrn = await simulator.connect_user()
    gateway.tokens.stale.add(vrn)
    r = await gateway.http.post(f"/internal/v1/vat/{vrn}/returns", json=submit_body("B001"))
    assert r.status_code == 201, r.text
    assert gateway.tokens.refreshes == 1
    statuses = [e["response_status"] for e in await audit_events(gateway.db_url)]
    assert statuses == [401, 201]


async def test_accepted_then_lost_is_uncertain_and_never_resent(
    gateway: Gateway, simulator: Simulator
) -> None:
    vrn = await simulator.connect_user()
    await simulator.control(
        "PUT", "/faults/submit_return", json={"after_accept": "error", "remaining": 1}
    )
    r = await gateway.http.post(f"/internal/v1/vat/{vrn}/returns", json=submit_body("C001"))
    assert r.status_code == 502, r.text
    assert r.json()["outcome"] == "uncertain"
    counters = await simulator.control("GET", "/counters")
    assert counters["requests"]["submit_return"] == {simulator.client_id: 1}
    # It did land: view return finds it.
    r = await gateway.http.get(
        f"/internal/v1/vat/{vrn}/returns/C001",
        params={"tenant_id": TENANT},
        headers=devices.web_headers(),
    )
    assert r.status_code == 200, r.text


async def test_callers_need_the_service_role(gateway: Gateway, auth: Auth) -> None:
    r = await gateway.http.get("/internal/v1/status", headers={"Authorization": "Bearer not-a-jwt"})
    assert r.status_code == 401
    r = await gateway.http.get("/internal/v1/status")
    assert r.status_code == 200, r.text
    assert set(r.json()["breakers"]) >= {"obligations", "returns", "financials"}


async def test_breaker_opens_on_5xx_storm_and_closes_on_recovery(
    gateway: Gateway, simulator: Simulator
) -> None:
    vrn = await simulator.connect_user()
    await simulator.control(
        "PUT", "/faults/obligations", json={"error_rate": 1, "error_status": 503}
    )
    params = {"tenant_id": TENANT, "from": "2026-01-01", "to": "2026-12-31"}
    url = f"/internal/v1/vat/{vrn}/obligations"
    r = await gateway.http.get(url, params=params, headers=devices.web_headers())
    assert r.status_code in (502, 503), r.text
    r = await gateway.http.get(url, params=params, headers=devices.web_headers())
    assert r.status_code == 503
    assert r.json()["code"] == "HMRC_CIRCUIT_OPEN"
    assert int(r.headers["retry-after"]) >= 1
    status = (await gateway.http.get("/internal/v1/status")).json()
    assert status["breakers"]["obligations"]["state"] == "open"
    ready = await gateway.http.get("/readyz")
    assert ready.status_code == 200  # HMRC failing does not make the gateway unready
    assert ready.json()["details"]["breakers"]["obligations"]["state"] == "open"
    assert status["breakers"]["returns"]["state"] == "closed"
    metrics = (await gateway.http.get("/metrics")).text
    assert 'hmrc_gateway_breaker_state{group="obligations"} 2.0' in metrics

    sent_while_open = (await simulator.control("GET", "/counters"))["requests"]["obligations"]
    await simulator.control("DELETE", "/faults/obligations")
    await asyncio.sleep(gateway.core.settings.breaker_open_seconds + 0.1)
    r = await gateway.http.get(url, params=params, headers=devices.web_headers())
    assert r.status_code == 200, r.text
    assert gateway.core.breakers["obligations"].describe()["state"] == "closed"
    after = (await simulator.control("GET", "/counters"))["requests"]["obligations"]
    assert after[simulator.client_id] == sent_while_open[simulator.client_id] + 1


async def test_throttled_read_pauses_everyone_then_succeeds(
    gateway: Gateway, simulator: Simulator
) -> None:
    vrn = await simulator.connect_user()
    await simulator.control(
        "PUT", "/faults/obligations", json={"error_rate": 1, "error_status": 429, "remaining": 1}
    )
    loop = asyncio.get_running_loop()
    started = loop.time()
    r = await gateway.http.get(
        f"/internal/v1/vat/{vrn}/obligations",
        params={"tenant_id": TENANT, "from": "2026-01-01", "to": "2026-12-31"},
        headers=devices.web_headers(),
    )
    assert r.status_code == 200, r.text
    # The retry waited out the global pause (no Retry-After: the configured default).
    assert loop.time() - started >= gateway.core.settings.throttle_pause_seconds * 0.9
    statuses = [e["response_status"] for e in await audit_events(gateway.db_url)]
    assert statuses == [429, 200]


async def test_retry_after_on_429_is_honoured(gateway: Gateway, simulator: Simulator) -> None:
    vrn = await simulator.connect_user()
    # HMRC's own limit below the gateway's (20/s in tests), with a Retry-After of 2 s.
    await simulator.control(
        "PUT", "/rate-limit", json={"requests_per_second": 1, "retry_after_seconds": 2}
    )
    url = f"/internal/v1/vat/{vrn}/obligations"
    params = {"tenant_id": TENANT, "from": "2026-01-01", "to": "2026-12-31"}
    loop = asyncio.get_running_loop()
    await asyncio.sleep(1.1)  # let the connection set-up's requests leave the window
    first = await gateway.http.get(url, params=params, headers=devices.web_headers())
    assert first.status_code == 200, first.text
    started = loop.time()
    second = await gateway.http.get(url, params=params, headers=devices.web_headers())
    assert second.status_code == 200, second.text
    assert loop.time() - started >= 1.9  # waited HMRC's Retry-After, not the 1 s default
    counters = await simulator.control("GET", "/counters")
    assert counters["throttledTotal"] == 1
