"""The control API: latency, errors, outage, accepted-but-unheard, deterministic mode,
reset, persistence across restarts, and the counters tests read."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import httpx

from tests.hmrc_sandbox.helpers import Simulator, start_simulator, valid_return


async def test_latency_and_error_rate_per_endpoint(fresh_simulator: Simulator) -> None:
    sim = fresh_simulator
    user = await sim.connected_user()
    path = f"/{user.vrn}/obligations?status=O"
    await sim.control("PUT", "/faults/obligations", {"latency_ms": 300})
    started = time.monotonic()
    assert (await sim.vat("GET", path, user.access_token)).status_code == 200
    assert time.monotonic() - started >= 0.3
    # Other endpoints are untouched.
    started = time.monotonic()
    await sim.vat("GET", f"/{user.vrn}/returns/18A1", user.access_token)
    assert time.monotonic() - started < 0.3

    await sim.control(
        "PUT", "/faults/obligations", {"error_rate": 1, "error_status": 503, "remaining": 2}
    )
    answers = [await sim.vat("GET", path, user.access_token) for _ in range(3)]
    assert [a.status_code for a in answers] == [503, 503, 200]
    assert answers[0].json() == {"code": "SERVICE_UNAVAILABLE", "message": "Internal server error"}
    counters = await sim.counters()
    assert counters["faults"]["obligations"]["error 503"] == 2
    assert counters["statuses"]["obligations"]["503"] == 2


async def test_outage_window_fails_every_endpoint(fresh_simulator: Simulator) -> None:
    sim = fresh_simulator
    user = await sim.connected_user()
    await sim.control("PUT", "/outage", {"seconds": 30, "status": 503})
    down = [
        await sim.vat("GET", f"/{user.vrn}/obligations?status=O", user.access_token),
        await sim.vat("POST", f"/{user.vrn}/returns", user.access_token, json=valid_return("18A1")),
        await sim.token(
            grant_type="client_credentials",
            client_id=sim.client_id,
            client_secret=sim.client_secret,
        ),
    ]
    assert [a.status_code for a in down] == [503, 503, 503]
    await sim.control("DELETE", "/outage")
    assert (await sim.vat("GET", f"/{user.vrn}/returns/18A1", user.access_token)).status_code == 404
    # A window in the past does nothing.
    past = datetime.now(UTC) - timedelta(hours=2)
    await sim.control(
        "PUT",
        "/outage",
        {"start": past.isoformat(), "end": (past + timedelta(hours=1)).isoformat()},
    )
    assert (await sim.vat("GET", f"/{user.vrn}/returns/18A1", user.access_token)).status_code == 404


async def test_accepted_but_answered_500_stores_the_return(fresh_simulator: Simulator) -> None:
    sim = fresh_simulator
    user = await sim.connected_user()
    await sim.control("PUT", "/faults/submit_return", {"after_accept": "error", "remaining": 1})
    path = f"/{user.vrn}/returns"
    lost = await sim.vat("POST", path, user.access_token, json=valid_return("18A3"))
    assert lost.status_code == 500
    assert lost.json() == {
        "code": "INTERNAL_SERVER_ERROR",
        "message": "An internal server error occurred",
    }
    # The caller could not know, but the return is there.
    viewed = await sim.vat("GET", f"{path}/18A3", user.access_token)
    assert viewed.status_code == 200
    retry = await sim.vat("POST", path, user.access_token, json=valid_return("18A3"))
    assert retry.json()["errors"][0]["code"] == "DUPLICATE_SUBMISSION"
    counters = await sim.counters()
    assert counters["returnsStored"][user.vrn]["18A3"] == 1
    assert counters["duplicateSubmissions"][user.vrn]["18A3"] == 1


async def test_accepted_then_timed_out(fresh_simulator: Simulator) -> None:
    sim = fresh_simulator
    user = await sim.connected_user()
    await sim.control(
        "PUT",
        "/faults/submit_return",
        {"after_accept": "timeout", "timeout_seconds": 1, "remaining": 1},
    )
    path = f"/{user.vrn}/returns"
    try:
        await sim.vat("POST", path, user.access_token, json=valid_return("18A4"), timeout=0.3)
        raise AssertionError("the simulator answered instead of timing out")
    except httpx.ReadTimeout:
        pass
    assert (await sim.vat("GET", f"{path}/18A4", user.access_token)).status_code == 200


async def test_deterministic_mode_repeats_identifiers(pg_url: str) -> None:
    from tests.conftest import fresh_database

    seen = []
    for _ in range(2):
        database = await fresh_database(pg_url, "hmrc_sandbox")
        async with start_simulator(
            database, seed=42, fixed_clock=datetime(2025, 5, 1, 9, tzinfo=UTC)
        ) as sim:
            user = await sim.connected_user()
            answer = await sim.vat(
                "POST", f"/{user.vrn}/returns", user.access_token, json=valid_return("25A1")
            )
            obligations = await sim.vat(
                "GET", f"/{user.vrn}/obligations?status=O", user.access_token
            )
            seen.append(
                (
                    user.user_id,
                    user.vrn,
                    user.access_token,
                    answer.json(),
                    answer.headers["Receipt-ID"],
                    answer.headers["Receipt-Timestamp"],
                    obligations.json(),
                )
            )
    assert seen[0] == seen[1]
    assert seen[0][5] == "2025-05-01T09:00:00Z"


async def test_state_persists_across_restarts_until_reset(pg_url: str) -> None:
    from tests.conftest import fresh_database

    database = await fresh_database(pg_url, "hmrc_sandbox")
    async with start_simulator(database) as sim:
        user = await sim.connected_user()
        client = (sim.client_id, sim.client_secret)
        await sim.vat("POST", f"/{user.vrn}/returns", user.access_token, json=valid_return("18A1"))
        await sim.control("PUT", "/fulfilment-lag", {"seconds": 7})
    async with start_simulator(database) as sim:
        assert (
            await sim.vat("GET", f"/{user.vrn}/returns/18A1", user.access_token)
        ).status_code == 200
        refreshed = await sim.token(
            grant_type="refresh_token",
            client_id=client[0],
            client_secret=client[1],
            refresh_token=user.refresh_token,
        )
        assert refreshed.status_code == 200
        state = await sim.control("GET", "/state")
        assert state["config"]["fulfilmentLagSeconds"] == 7
        await sim.control("POST", "/reset")
        assert (await sim.vat("GET", f"/{user.vrn}/returns/18A1", user.access_token)).json()[
            "code"
        ] == "INVALID_CREDENTIALS"
        state = await sim.control("GET", "/state")
        assert state["stored"] == {"applications": 1, "test_users": 0, "returns": 0}
        # The platform's configured application survives a reset.
        assert (
            await sim.token(
                grant_type="client_credentials",
                client_id="platform-app",
                client_secret="platform-app-secret-for-tests",
            )
        ).status_code == 200


async def test_peak_rate_is_the_busiest_one_second_window(fresh_simulator: Simulator) -> None:
    sim = fresh_simulator
    user = await sim.connected_user()
    await sim.control("POST", "/counters/reset")
    path = f"/{user.vrn}/obligations?status=O"
    await asyncio.gather(*(sim.vat("GET", path, user.access_token) for _ in range(12)))
    counters = await sim.counters()
    assert counters["peakRequestsPerSecond"][sim.client_id] == 12
    assert counters["requests"]["obligations"][sim.client_id] == 12


async def test_control_api_is_off_unless_enabled(pg_url: str) -> None:
    from tests.conftest import fresh_database

    database = await fresh_database(pg_url, "hmrc_sandbox")
    async with start_simulator(database) as sim:
        sim.settings = sim.settings.model_copy(update={"control_enabled": False})
        sim.app.state.sandbox.settings = sim.settings
        answer = await sim.http.get(f"{sim.url}/control/counters")
        assert answer.status_code == 404
        assert answer.headers["content-type"] == "application/problem+json"
