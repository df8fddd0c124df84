"""The API platform in front of the VAT API: Accept, bearer, scopes, VRN authority,
X-CorrelationId, receipts, rate limit, and the stateful sandbox behaviour."""

from __future__ import annotations

import asyncio
import re

from tests.hmrc_sandbox.contracts import CATALOGUE, PLATFORM
from tests.hmrc_sandbox.helpers import ACCEPT, Simulator, valid_return

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


async def test_credentials_are_checked_and_named_as_hmrc_names_them(simulator: Simulator) -> None:
    user = await simulator.connected_user()
    path = f"/{user.vrn}/obligations?status=O"
    missing = await simulator.vat("GET", path, None)
    invalid = await simulator.vat("GET", path, "not-a-token")
    app_token = await simulator.vat("GET", path, simulator.app_token)
    codes = PLATFORM["platform_errors"]["401"]
    assert (missing.status_code, missing.json()["code"]) == (401, "MISSING_CREDENTIALS")
    assert (invalid.status_code, invalid.json()["code"]) == (401, "INVALID_CREDENTIALS")
    assert (app_token.status_code, app_token.json()["code"]) == (401, "INCORRECT_ACCESS_TOKEN_TYPE")
    assert {"MISSING_CREDENTIALS", "INVALID_CREDENTIALS", "INCORRECT_ACCESS_TOKEN_TYPE"} <= set(
        codes
    )


async def test_a_read_only_token_cannot_submit(simulator: Simulator) -> None:
    user = await simulator.connected_user(scope="read:vat")
    submitted = await simulator.vat(
        "POST", f"/{user.vrn}/returns", user.access_token, json=valid_return("18A1")
    )
    assert submitted.status_code == 403
    assert submitted.json()["code"] == "INVALID_SCOPE"
    read = await simulator.vat("GET", f"/{user.vrn}/returns/18A1", user.access_token)
    assert read.status_code == 404  # reading is allowed (and nothing was stored)


async def test_every_answer_carries_a_correlation_id(simulator: Simulator) -> None:
    user = await simulator.connected_user()
    answers = [
        await simulator.vat("GET", f"/{user.vrn}/obligations?status=O", user.access_token),
        await simulator.vat("GET", f"/{user.vrn}/obligations", user.access_token),
        await simulator.vat("GET", f"/{user.vrn}/obligations", None),
        await simulator.vat("GET", "/x/obligations", user.access_token, headers={"Accept": ""}),
        await simulator.http.get(f"{simulator.url}/no/such/path"),
        await simulator.vat("GET", f"/{user.vrn}/returns/ZZZZ", user.access_token),
    ]
    ids = [a.headers.get("X-CorrelationId", "") for a in answers]
    assert all(UUID.match(i) for i in ids), ids
    assert len(set(ids)) == len(ids)


async def test_receipt_headers_on_201_only(simulator: Simulator) -> None:
    user = await simulator.connected_user()
    path = f"/{user.vrn}/returns"
    first = await simulator.vat("POST", path, user.access_token, json=valid_return("18A1"))
    again = await simulator.vat("POST", path, user.access_token, json=valid_return("18A1"))
    assert first.status_code == 201
    assert UUID.match(first.headers["Receipt-ID"])
    assert re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$", first.headers["Receipt-Timestamp"])
    assert first.headers["Receipt-Signature"] in CATALOGUE["common_headers"]["submit_extra"][2]
    body = first.json()
    assert re.match(r"^[0-9]{12}$", body["formBundleNumber"])
    assert re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000$", body["processingDate"])
    # 5.05 due, 105.15 reclaimed: a repayment, so no charge reference.
    assert body["paymentIndicator"] == "BANK" and "chargeRefNumber" not in body
    assert again.status_code == 403
    assert "Receipt-ID" not in again.headers


async def test_a_debit_return_gets_a_charge_reference(simulator: Simulator) -> None:
    user = await simulator.connected_user()
    owed = valid_return("18A1", vatReclaimedCurrPeriod=1.05, netVatDue=4)
    answer = await simulator.vat("POST", f"/{user.vrn}/returns", user.access_token, json=owed)
    assert answer.status_code == 201
    assert 1 <= len(answer.json()["chargeRefNumber"]) <= 16
    assert answer.json()["paymentIndicator"] == "DD"


async def test_stored_return_is_viewed_exactly_as_sent_without_finalised(
    simulator: Simulator,
) -> None:
    user = await simulator.connected_user()
    raw = (
        b'{"periodKey":"#001","vatDueSales":100.00,"vatDueAcquisitions":100,"totalVatDue":200.0,'
        b'"vatReclaimedCurrPeriod":100,"netVatDue":100,"totalValueSalesExVAT":500,'
        b'"totalValuePurchasesExVAT":500.00,"totalValueGoodsSuppliedExVAT":500,'
        b'"totalAcquisitionsExVAT":500,"finalised":true}'
    )
    sent = await simulator.vat(
        "POST",
        f"/{user.vrn}/returns",
        user.access_token,
        content=raw,
        headers={"Content-Type": "application/json"},
    )
    assert sent.status_code == 201, sent.text
    viewed = await simulator.vat("GET", f"/{user.vrn}/returns/%23001", user.access_token)
    assert viewed.status_code == 200
    assert viewed.text == (
        '{"periodKey":"#001","vatDueSales":100.00,"vatDueAcquisitions":100,"totalVatDue":200.0,'
        '"vatReclaimedCurrPeriod":100,"netVatDue":100,"totalValueSalesExVAT":500,'
        '"totalValuePurchasesExVAT":500.00,"totalValueGoodsSuppliedExVAT":500,'
        '"totalAcquisitionsExVAT":500}'
    )


async def test_second_submission_for_a_period_is_a_duplicate_and_counted(
    simulator: Simulator,
) -> None:
    user = await simulator.connected_user()
    path = f"/{user.vrn}/returns"
    # Ten at once: exactly one is stored, nine are duplicates.
    answers = await asyncio.gather(
        *(
            simulator.vat("POST", path, user.access_token, json=valid_return("19A2"))
            for _ in range(10)
        )
    )
    assert sorted(a.status_code for a in answers) == [201] + [403] * 9
    duplicate = next(a for a in answers if a.status_code == 403)
    assert duplicate.json()["errors"][0]["code"] == "DUPLICATE_SUBMISSION"
    counters = await simulator.counters()
    assert counters["returnsStored"][user.vrn] == {"19A2": 1}
    assert counters["duplicateSubmissions"][user.vrn] == {"19A2": 9}


async def test_obligation_is_fulfilled_by_a_return(simulator: Simulator) -> None:
    user = await simulator.connected_user()
    listed = await simulator.vat("GET", f"/{user.vrn}/obligations?status=O", user.access_token)
    open_before = listed.json()["obligations"]
    assert len(open_before) >= 4  # a year of quarters, none filed
    target = open_before[0]
    await simulator.vat(
        "POST", f"/{user.vrn}/returns", user.access_token, json=valid_return(target["periodKey"])
    )
    window = f"from={target['start']}&to={target['end']}"
    after = await simulator.vat("GET", f"/{user.vrn}/obligations?{window}", user.access_token)
    (fulfilled,) = [o for o in after.json()["obligations"] if o["periodKey"] == target["periodKey"]]
    assert fulfilled["status"] == "F" and "received" in fulfilled
    still_open = await simulator.vat("GET", f"/{user.vrn}/obligations?status=O", user.access_token)
    assert target["periodKey"] not in [o["periodKey"] for o in still_open.json()["obligations"]]


async def test_fulfilment_lag_delays_the_obligation(fresh_simulator: Simulator) -> None:
    sim = fresh_simulator
    await sim.control("PUT", "/fulfilment-lag", {"seconds": 3600})
    user = await sim.connected_user()
    target = (await sim.vat("GET", f"/{user.vrn}/obligations?status=O", user.access_token)).json()[
        "obligations"
    ][0]
    await sim.vat(
        "POST", f"/{user.vrn}/returns", user.access_token, json=valid_return(target["periodKey"])
    )
    query = f"/{user.vrn}/obligations?status=O"
    assert target["periodKey"] in (await sim.vat("GET", query, user.access_token)).text
    await sim.control("PUT", "/clock", {"advance_seconds": 3601})
    assert target["periodKey"] not in (await sim.vat("GET", query, user.access_token)).text


async def test_rate_limit_per_application_answers_429_and_is_counted(
    simulator: Simulator,
) -> None:
    client_id, secret = await simulator.new_application(rate=None)  # HMRC's default: 3/s
    token = await simulator.client_credentials(client_id, secret)
    user = await simulator.create_user()
    statuses = []
    for _ in range(8):
        answer = await simulator.http.post(
            f"{simulator.url}/create-test-user/organisations",
            json={"serviceNames": ["mtd-vat"]},
            headers={"Accept": ACCEPT, "Authorization": f"Bearer {token}"},
        )
        statuses.append(answer.status_code)
        if answer.status_code == 429:
            assert answer.json() == {
                "code": "MESSAGE_THROTTLED_OUT",
                "message": "The request for the API is throttled as you have exceeded your quota.",
            }
    assert statuses[:3] == [201, 201, 201] and statuses.count(429) >= 4
    counters = await simulator.counters()
    assert counters["throttled"][client_id] == statuses.count(429)
    assert counters["peakRequestsPerSecond"][client_id] >= 8 - 1
    assert counters["requests"]["create_test_user"][client_id] == 8
    assert user.vrn


async def test_unknown_paths_and_methods_are_hmrc_404s(simulator: Simulator) -> None:
    user = await simulator.connected_user()
    wrong_method = await simulator.vat("DELETE", f"/{user.vrn}/obligations", user.access_token)
    nowhere = await simulator.http.get(f"{simulator.url}/individuals/nothing")
    for answer in (wrong_method, nowhere):
        assert answer.status_code == 404
        assert answer.json() == {
            "code": "MATCHING_RESOURCE_NOT_FOUND",
            "message": "Matching resource not found",
        }


async def test_test_user_has_a_valid_vrn_enrolled_for_mtd_vat(simulator: Simulator) -> None:
    user = await simulator.create_user()
    digits = [int(d) for d in user.vrn]
    weighted = sum(d * w for d, w in zip(digits[:7], range(8, 1, -1), strict=True))
    assert (weighted + digits[7] * 10 + digits[8]) % 97 == 0
    required = {"userId", "password", "userFullName", "emailAddress", "organisationDetails"}
    assert required <= set(user.answer)
    assert user.answer["vatRegistrationDate"]
    not_vat = await simulator.create_user(services=["corporation-tax"])
    assert "vrn" not in not_vat.answer and not_vat.answer["ctUtr"]
    bad = await simulator.http.post(
        f"{simulator.url}/create-test-user/organisations",
        json={"serviceNames": ["nope"]},
        headers={"Accept": ACCEPT, "Authorization": f"Bearer {simulator.app_token}"},
    )
    assert bad.status_code == 400
