"""Obligations, liabilities and payments through the real gateway and simulator: HMRC's
shapes plus freshness, the parameter rules checked here, scenarios passed through, and
tenant isolation."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from services.common import hmrc_contracts
from tests.auth.conftest import bearer
from tests.obligations.conftest import Platform

WINDOW = {"from": f"{date.today().year - 1}-01-01", "to": f"{date.today().year - 1}-12-31"}


async def test_obligations_shape_and_freshness(platform: Platform) -> None:
    tenant = await platform.tenant()
    [vrn] = tenant.vrns
    r = await platform.get(f"/v1/vat/{vrn}/obligations", tenant.token, params=WINDOW)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["obligations"], body
    ob = body["obligations"][0]
    assert {"periodKey", "start", "end", "due", "status", "platformStatus"} <= set(ob)
    fresh = body["freshness"]
    assert fresh["source"] == "hmrc" and fresh["stale"] is False
    assert r.headers["x-cache-status"] == "miss"
    assert datetime.fromisoformat(fresh["fetched_at"]).tzinfo is not None

    r = await platform.get(f"/v1/vat/{vrn}/obligations", tenant.token, params=WINDOW)
    assert r.status_code == 200, r.text
    assert r.headers["x-cache-status"] == "hit"
    assert r.json()["freshness"]["source"] == "cache"
    assert int(r.headers["age"]) >= 0
    assert r.json()["obligations"] == body["obligations"]


async def test_parameter_rules_are_checked_locally(platform: Platform) -> None:
    tenant = await platform.tenant()
    [vrn] = tenant.vrns
    before = await platform.hmrc_calls("obligations")
    start = date(2025, 1, 1)
    cases = [
        ({}, "INVALID_DATE_FROM"),
        ({"status": "F"}, "MISSING_DATE_RANGE"),
        ({"status": "X"}, "INVALID_OBLIGATION_STATUS"),
        ({"from": "2025-01-01"}, "INVALID_DATE_TO"),
        ({"to": "2025-01-01"}, "INVALID_DATE_FROM"),
        ({"from": "2025-02-30", "to": "2025-03-01"}, "INVALID_DATE_FROM"),
        ({"from": "2025-01-01", "to": "01-03-2025"}, "INVALID_DATE_TO"),
        ({"from": "2025-01-01", "to": "2025-03-01", "status": "Z"}, "INVALID_OBLIGATION_STATUS"),
        ({"from": "2025-03-01", "to": "2025-01-01"}, "INVALID_DATE_RANGE"),
        (
            {"from": start.isoformat(), "to": (start + timedelta(days=366)).isoformat()},
            "INVALID_DATE_RANGE",
        ),
    ]
    for params, code in cases:
        r = await platform.get(f"/v1/vat/{vrn}/obligations", tenant.token, params=params)
        assert (r.status_code, r.json()["code"]) == (400, code), (params, r.text)
        assert r.headers["content-type"] == "application/problem+json"
    # 366 days apart (a year, with 29 February) is the widest window HMRC accepts; it goes
    # to HMRC, which has nothing for a business created today that far back.
    r = await platform.get(
        f"/v1/vat/{vrn}/obligations",
        tenant.token,
        params={"from": "2024-01-01", "to": "2024-12-31"},
    )
    assert (r.status_code, r.json()["code"]) == (404, "HMRC_NO_DATA_FOUND"), r.text
    r = await platform.get("/v1/vat/12345/obligations", tenant.token, params=WINDOW)
    assert (r.status_code, r.json()["code"]) == (400, "VRN_INVALID")
    today = datetime.now(UTC).date()
    for what in ("liabilities", "payments"):
        for params, code in [
            ({"from": "2016-01-01", "to": "2016-12-01"}, "INVALID_DATE_FROM"),
            ({"from": "2017-01-01"}, "INVALID_DATE_TO"),
            (
                {"from": "2017-01-01", "to": (today + timedelta(days=2)).isoformat()},
                "INVALID_DATE_TO",
            ),
            ({"from": "2017-01-01", "to": "2018-01-01"}, "INVALID_DATE_RANGE"),
        ]:
            r = await platform.get(f"/v1/vat/{vrn}/{what}", tenant.token, params=params)
            assert (r.status_code, r.json()["code"]) == (400, code), (what, params, r.text)
    # Only the one valid request reached HMRC.
    assert await platform.hmrc_calls("obligations") == before + 1


async def test_liabilities_and_payments_scenarios(platform: Platform) -> None:
    tenant = await platform.tenant()
    [vrn] = tenant.vrns
    several = {
        "liabilities": ("MULTIPLE_LIABILITIES", "2017-04-05", "SINGLE_LIABILITY"),
        "payments": ("MULTIPLE_PAYMENTS", "2017-02-27", "SINGLE_PAYMENT"),
    }
    for what, (multiple, start, single) in several.items():
        window = {"from": start, "to": "2017-12-21"}
        scenario = {"Gov-Test-Scenario": multiple}
        r = await platform.get(
            f"/v1/vat/{vrn}/{what}", tenant.token, headers=scenario, params=window
        )
        assert r.status_code == 200, r.text
        items = r.json()[what]
        assert len(items) > 1
        assert all(isinstance(i["amount"], str) for i in items if "amount" in i), items
        assert r.json()["freshness"]["source"] == "hmrc"
        # The same scenario again comes from the cache ...
        r = await platform.get(
            f"/v1/vat/{vrn}/{what}", tenant.token, headers=scenario, params=window
        )
        assert r.headers["x-cache-status"] == "hit"
        assert r.json()[what] == items
        # ... another scenario is another answer, never the cached one.
        r = await platform.get(
            f"/v1/vat/{vrn}/{what}",
            tenant.token,
            headers={"Gov-Test-Scenario": single},
            params={"from": "2017-01-02", "to": "2017-02-02"},
        )
        assert r.status_code == 200, r.text
        assert len(r.json()[what]) == 1, r.json()
        # No scenario: HMRC's sandbox has no data, said plainly.
        r = await platform.get(f"/v1/vat/{vrn}/{what}", tenant.token, params=window)
        assert (r.status_code, r.json()["code"]) == (404, "HMRC_NO_DATA_FOUND"), r.text


async def test_hmrc_refusals_pass_through(platform: Platform) -> None:
    tenant = await platform.tenant()
    [vrn] = tenant.vrns
    for scenario, status, code in [
        ("INSOLVENT_TRADER", 403, "INSOLVENT_TRADER"),
        ("NOT_FOUND", 404, "HMRC_NO_DATA_FOUND"),
    ]:
        r = await platform.get(
            f"/v1/vat/{vrn}/obligations",
            tenant.token,
            headers={"Gov-Test-Scenario": scenario},
            params=WINDOW,
        )
        assert (r.status_code, r.json()["code"]) == (status, code), r.text


async def test_tenant_isolation_and_scope(platform: Platform) -> None:
    mine, theirs = await platform.tenant(), await platform.tenant()
    [their_vrn] = theirs.vrns
    r = await platform.get(f"/v1/vat/{their_vrn}/obligations", theirs.token, params=WINDOW)
    assert r.status_code == 200, r.text  # cached now for the other tenant
    for what in ("obligations", "liabilities", "payments"):
        params = WINDOW if what == "obligations" else {"from": "2017-02-27", "to": "2017-12-21"}
        r = await platform.get(f"/v1/vat/{their_vrn}/{what}", mine.token, params=params)
        assert (r.status_code, r.json()["code"]) == (404, "VRN_NOT_CONNECTED"), r.text
        assert their_vrn not in r.json().get("obligations", [])
    r = await platform.get("/v1/obligations/due", mine.token, params={"within": "366"})
    assert their_vrn not in {d["vrn"] for d in r.json()["due"]}

    r = await platform.http.get(f"/v1/vat/{their_vrn}/obligations", params=WINDOW)
    assert (r.status_code, r.json()["code"]) == (401, "NO_TOKEN")
    admin = await platform.auth.admin_token()  # a platform identity: no vat:read
    r = await platform.get(f"/v1/vat/{their_vrn}/obligations", admin, params=WINDOW)
    assert r.status_code == 403, r.text
    r = await platform.http.get(
        f"/v1/vat/{their_vrn}/obligations", params=WINDOW, headers=bearer("not-a-jwt")
    )
    assert r.status_code == 401


def obligation_scenarios() -> list[str]:
    """Every obligations Gov-Test-Scenario HMRC lists that answers with obligations
    (`##` expanded); the error scenarios are in test_hmrc_refusals_pass_through."""
    listed = hmrc_contracts.load(hmrc_contracts.SANDBOX_SCENARIOS)["obligations"]
    names = []
    for name in listed:
        if name.startswith("DEFAULT") or name in ("INSOLVENT_TRADER", "NOT_FOUND"):
            continue
        if "##" in name:
            last = 12 if name.startswith("MONTHLY") else 4
            names += [name.replace("##", f"{n:02d}") for n in range(1, last + 1)]
        else:
            names.append(name)
    return names


FULFILLED = {"NONE": 0, "ONE": 1, "TWO": 2, "THREE": 3, "FOUR": 4}


async def test_every_obligations_scenario_passes_through(platform: Platform) -> None:
    tenant = await platform.tenant()
    [vrn] = tenant.vrns
    for scenario in obligation_scenarios():
        r = await platform.get(
            f"/v1/vat/{vrn}/obligations",
            tenant.token,
            headers={"Gov-Test-Scenario": scenario},
            params={"from": "2018-01-01", "to": "2018-12-31"},
        )
        assert r.status_code == 200, (scenario, r.text)
        obligations = r.json()["obligations"]
        assert obligations, scenario
        assert all(o["platformStatus"] in ("OPEN", "FULFILLED") for o in obligations), scenario
        words = scenario.split("_")
        if len(words) == 3 and words[2] == "MET":
            met = sum(o["status"] == "F" for o in obligations)
            assert met == FULFILLED[words[1]], (scenario, obligations)
        if scenario.startswith("MULTIPLE_OPEN"):
            assert sum(o["status"] == "O" for o in obligations) == 2, scenario


FINANCIAL_SCENARIOS = {
    # scenario: (window HMRC documents for it, how many items)
    "liabilities": {
        "SINGLE_LIABILITY": (("2017-01-02", "2017-02-02"), 1),
        "MULTIPLE_LIABILITIES": (("2017-04-05", "2017-12-21"), None),
        "SINGLE_LIABILITY_2018_19": (("2018-01-02", "2018-02-02"), 1),
        "MULTIPLE_LIABILITIES_2018_19": (("2018-04-05", "2018-12-21"), None),
    },
    "payments": {
        "SINGLE_PAYMENT": (("2017-01-02", "2017-02-02"), 1),
        "MULTIPLE_PAYMENTS": (("2017-02-27", "2017-12-21"), None),
        "SINGLE_PAYMENT_2018_19": (("2018-01-02", "2018-02-02"), 1),
        "MULTIPLE_PAYMENTS_2018_19": (("2018-02-27", "2018-12-21"), None),
    },
}


async def test_every_liabilities_and_payments_scenario_passes_through(
    platform: Platform,
) -> None:
    tenant = await platform.tenant()
    [vrn] = tenant.vrns
    listed = hmrc_contracts.load(hmrc_contracts.SANDBOX_SCENARIOS)
    for what, scenarios in FINANCIAL_SCENARIOS.items():
        named = {k for k in listed[what] if k.isupper() and k != "INSOLVENT_TRADER"}
        assert named == set(scenarios), what  # nothing HMRC lists is left untested
        for scenario, ((start, end), count) in scenarios.items():
            r = await platform.get(
                f"/v1/vat/{vrn}/{what}",
                tenant.token,
                headers={"Gov-Test-Scenario": scenario},
                params={"from": start, "to": end},
            )
            assert r.status_code == 200, (scenario, r.text)
            items = r.json()[what]
            assert len(items) == count if count else len(items) > 1, (scenario, items)
        r = await platform.get(
            f"/v1/vat/{vrn}/{what}",
            tenant.token,
            headers={"Gov-Test-Scenario": "INSOLVENT_TRADER"},
            params={"from": "2017-01-02", "to": "2017-02-02"},
        )
        assert (r.status_code, r.json()["code"]) == (403, "INSOLVENT_TRADER"), r.text
