"""Every downstream error HMRC documents for submitting a return, produced by the simulator
and passed through the gateway: the platform code and status the error map promises, with
HMRC's own code kept, and 5xx answers reported as uncertain rather than rejected."""

from __future__ import annotations

from typing import Any

import pytest

from services.common import hmrc_contracts as contracts
from services.common import hmrc_error_map as error_map
from tests.hmrc_gateway.conftest import Gateway, Simulator
from tests.hmrc_gateway.test_internal_api import submit_body


def cases() -> list[tuple[str, dict[str, Any]]]:
    """(DES code, catalogue entry); one entry may name several DES codes ("A | B")."""
    entries = contracts.load(contracts.ERROR_CATALOGUE)["submit_return"]["downstream_errors"]
    out = []
    for entry in entries:
        des = str(entry["des"])
        codes = des.split(" ", 1)[1] if des[0].isdigit() else des
        out += [(code.strip(), entry) for code in codes.split("|")]
    return out


@pytest.mark.parametrize(("des", "entry"), cases(), ids=[c[0] for c in cases()])
async def test_downstream_error_through_the_gateway(
    des: str, entry: dict[str, Any], gateway: Gateway, simulator: Simulator
) -> None:
    vrn = await simulator.connect_user()
    fault = {"downstream": des, "remaining": 1}
    await simulator.control("PUT", "/faults/submit_return", json=fault)
    r = await gateway.http.post(f"/internal/v1/vat/{vrn}/returns", json=submit_body("D001"))
    status = int(entry["status"])
    expected = error_map.map_error(status, entry["body"])
    answer = r.json()
    assert r.headers["content-type"] == "application/problem+json"
    if status >= 500:
        # HMRC may have stored it: never "rejected", always checked before any resend.
        assert answer["outcome"] == "uncertain", answer
        assert r.status_code in (502, 504)
    else:
        assert answer["outcome"] == "rejected", answer
        assert r.status_code == expected.status
        assert answer["code"] == expected.code
        assert answer["hmrc_code"] == expected.hmrc_code
        assert answer["action"]
