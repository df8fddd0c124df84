"""Every downstream error the simulator can give the read endpoints (HMRC's documented
answers), through the gateway: the mapped platform code and status, HMRC's code kept."""

from __future__ import annotations

import uuid

import pytest

from services.common import hmrc_error_map as error_map
from services.common import hmrc_errors
from tests.hmrc_gateway import devices
from tests.hmrc_gateway.conftest import Gateway, Simulator

TENANT = str(uuid.uuid4())
READS = ("obligations", "view_return", "liabilities", "payments")
CASES = [(e, des) for e in READS for des in sorted(hmrc_errors.DOWNSTREAM.get(e, {}))]
RANGE = {"from": "2025-01-01", "to": "2025-12-31"}  # in the past: liabilities refuse a future `to`


def request_for(endpoint: str, vrn: str) -> tuple[str, dict[str, str]]:
    base = f"/internal/v1/vat/{vrn}"
    if endpoint == "view_return":
        return f"{base}/returns/R001", {"tenant_id": TENANT}
    return f"{base}/{endpoint}", {"tenant_id": TENANT, **RANGE}


@pytest.mark.parametrize(("endpoint", "des"), CASES, ids=[f"{e}-{d}" for e, d in CASES])
async def test_read_error_through_the_gateway(
    endpoint: str, des: str, gateway: Gateway, simulator: Simulator
) -> None:
    vrn = await simulator.connect_user()
    error = hmrc_errors.DOWNSTREAM[endpoint][des]
    # Enough repeats for the gateway's retries of a 5xx; a 4xx is answered at once.
    await simulator.control("PUT", f"/faults/{endpoint}", json={"downstream": des})
    path, params = request_for(endpoint, vrn)
    r = await gateway.http.get(path, params=params, headers=devices.web_headers())
    await simulator.control("DELETE", f"/faults/{endpoint}")
    empty_404 = "RETURN_NOT_FOUND" if endpoint == "view_return" else "HMRC_NOT_FOUND"
    expected = error_map.map_error(error.status, error.body, empty_404=empty_404)
    assert r.headers["content-type"] == "application/problem+json", r.text
    answer = r.json()
    if error.status >= 500:
        assert r.status_code >= 500
        return
    assert (r.status_code, answer["code"]) == (expected.status, expected.code), answer
    assert answer["hmrc_code"] == expected.hmrc_code
