"""Fraud prevention header validation against specification v3.3, per connection method."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.hmrc_sandbox.contracts import FPH
from tests.hmrc_sandbox.helpers import ACCEPT, Simulator

METHODS = list(FPH["connection_methods"])


def now_stamp(offset: timedelta = timedelta()) -> str:
    moment = datetime.now(UTC) + offset
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def good_headers(method: str) -> dict[str, str]:
    """A valid value for every header the method requires, from the specification's examples."""
    spec = FPH["headers"]
    values = {
        "Gov-Client-Connection-Method": method,
        "Gov-Client-Public-IP-Timestamp": now_stamp(),
        "Gov-Client-Local-IPs-Timestamp": now_stamp(),
        "Gov-Client-User-IDs": spec["Gov-Client-User-IDs"]["examples"]["BATCH_PROCESS_DIRECT"],
        "Gov-Client-Public-IP": spec["Gov-Client-Public-IP"]["examples"][0],
        "Gov-Client-Local-IPs": spec["Gov-Client-Local-IPs"]["examples"][0],
        "Gov-Client-Timezone": spec["Gov-Client-Timezone"]["examples"][0],
        "Gov-Vendor-Forwarded": spec["Gov-Vendor-Forwarded"]["examples"][0],
        "Gov-Vendor-Version": "my-client=1.0&my-server=2.1",
    }
    out = {}
    for name in FPH["connection_methods"][method]:
        out[name] = values.get(name) or spec[name]["example"]
    return out


async def validate(simulator: Simulator, headers: dict[str, str]) -> dict[str, object]:
    answer = await simulator.http.get(
        f"{simulator.url}/test/fraud-prevention-headers/validate",
        headers={"Accept": ACCEPT, "Authorization": f"Bearer {simulator.app_token}", **headers},
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, object] = answer.json()
    return body


@pytest.mark.parametrize("method", METHODS)
async def test_a_complete_set_is_valid(simulator: Simulator, method: str) -> None:
    body = await validate(simulator, good_headers(method))
    assert body == {
        "specVersion": "3.3",
        "code": "VALID_HEADERS",
        "message": "All headers appear to be valid",
    }


@pytest.mark.parametrize("method", METHODS)
async def test_each_required_header_missing_is_named(simulator: Simulator, method: str) -> None:
    for name in FPH["connection_methods"][method]:
        if name == "Gov-Client-Connection-Method":
            continue
        headers = good_headers(method)
        del headers[name]
        body = await validate(simulator, headers)
        assert body["code"] == "INVALID_HEADERS"
        assert {
            "code": "MISSING_HEADER",
            "message": f"Header required for connection method {method}",
            "headers": [name.lower()],
        } in body["errors"]  # type: ignore[operator]


@pytest.mark.parametrize(
    ("name", "value", "expected_code"),
    [
        ("Gov-Client-Public-IP", "10.1.2.3", "INVALID_HEADERS"),
        ("Gov-Client-Public-IP", "not-an-ip", "INVALID_HEADERS"),
        ("Gov-Client-Public-Port", "443", "INVALID_HEADERS"),
        ("Gov-Client-Timezone", "GMT+1", "INVALID_HEADERS"),
        ("Gov-Client-Device-ID", "undefined", "INVALID_HEADERS"),
        ("Gov-Client-Device-ID", "", "INVALID_HEADERS"),
        ("Gov-Client-Screens", "width=1920&height=1080", "INVALID_HEADERS"),
        ("Gov-Client-Window-Size", "width=0&height=803", "INVALID_HEADERS"),
        (
            "Gov-Client-Multi-Factor",
            "type=SMS&timestamp=2021-11-21T13%3A23Z&unique-reference=a",
            "INVALID_HEADERS",
        ),
        ("Gov-Client-Public-IP-Timestamp", "2020-09-21T14:30:05Z", "INVALID_HEADERS"),
        (
            "Gov-Client-Public-IP-Timestamp",
            now_stamp(-timedelta(hours=3)),
            "POTENTIALLY_INVALID_HEADERS",
        ),
        ("Gov-Vendor-Product-Name", "Product Name", "INVALID_HEADERS"),
        ("Gov-Vendor-Forwarded", "by=10.0.0.1&for=198.51.100.0", "INVALID_HEADERS"),
    ],
)
async def test_bad_values_are_named(
    simulator: Simulator, name: str, value: str, expected_code: str
) -> None:
    headers = {**good_headers("WEB_APP_VIA_SERVER"), "Gov-Client-Public-Port": "12345"}
    headers[name] = value
    body = await validate(simulator, headers)
    assert body["code"] == expected_code
    findings = body.get("errors") or body.get("warnings")
    assert [f["headers"] for f in findings] == [[name.lower()]]  # type: ignore[union-attr]


async def test_method_specific_rules(simulator: Simulator) -> None:
    batch = good_headers("BATCH_PROCESS_DIRECT")
    batch["Gov-Client-User-IDs"] = "my-application=alice123"  # no 'os' key
    body = await validate(simulator, batch)
    assert body["errors"][0]["headers"] == ["gov-client-user-ids"]  # type: ignore[index]
    desktop = good_headers("DESKTOP_APP_VIA_SERVER")
    desktop["Gov-Vendor-Version"] = "my-client=1.0"  # the server's version is missing
    body = await validate(simulator, desktop)
    assert body["errors"][0]["headers"] == ["gov-vendor-version"]  # type: ignore[index]
    web = {**good_headers("WEB_APP_VIA_SERVER"), "Gov-Client-Browser-Plugins": "x"}
    body = await validate(simulator, web)
    assert body["code"] == "POTENTIALLY_INVALID_HEADERS"
    assert body["warnings"][0]["headers"] == ["gov-client-browser-plugins"]  # type: ignore[index]


async def test_missing_or_unknown_connection_method(simulator: Simulator) -> None:
    assert (await validate(simulator, {}))["errors"] == [
        {
            "code": "MISSING_HEADER",
            "message": "Header required",
            "headers": ["gov-client-connection-method"],
        }
    ]
    body = await validate(simulator, {"Gov-Client-Connection-Method": "CARRIER_PIGEON"})
    assert body["errors"][0]["headers"] == ["gov-client-connection-method"]  # type: ignore[index]


async def test_validation_feedback_on_recent_vat_requests(simulator: Simulator) -> None:
    client_id, secret = await simulator.new_application()
    simulator_app = simulator.client_id, simulator.client_secret
    simulator.client_id, simulator.client_secret = client_id, secret
    try:
        user = await simulator.connected_user()
    finally:
        simulator.client_id, simulator.client_secret = simulator_app
    await simulator.vat(
        "GET",
        f"/{user.vrn}/obligations?status=O",
        user.access_token,
        headers=good_headers("OTHER_DIRECT"),
    )
    broken = {
        k: v for k, v in good_headers("WEB_APP_VIA_SERVER").items() if k != "Gov-Client-Timezone"
    }
    await simulator.vat("GET", f"/{user.vrn}/returns/18A1", user.access_token, headers=broken)
    app_token = await simulator.client_credentials(client_id, secret)
    answer = await simulator.http.get(
        f"{simulator.url}/test/fraud-prevention-headers/vat-mtd/validation-feedback",
        headers={"Accept": ACCEPT, "Authorization": f"Bearer {app_token}"},
    )
    requests = answer.json()["requests"]
    assert [(r["method"], r["path"].rsplit("/", 1)[-1], r["code"]) for r in requests] == [
        ("GET", "18A1", "INVALID_HEADERS"),
        ("GET", "obligations", "VALID_HEADERS"),
    ]
    assert requests[0]["errors"][0]["headers"] == ["gov-client-timezone"]
    only_web = await simulator.http.get(
        f"{simulator.url}/test/fraud-prevention-headers/vat-mtd/validation-feedback",
        params={"connectionMethod": "WEB_APP_VIA_SERVER"},
        headers={"Accept": ACCEPT, "Authorization": f"Bearer {app_token}"},
    )
    assert len(only_web.json()["requests"]) == 1
