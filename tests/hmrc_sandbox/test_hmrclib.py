"""An independent check: `hmrclib`, a third-party HMRC client from PyPI, pointed at the
simulator, runs obligations, submit, view, liabilities and payments as it would at HMRC.

hmrclib is synchronous, so its calls run in a thread while the simulator serves in this
event loop. Two of its habits are exercised on purpose: it does not percent-encode `#` in a
period key, and it retries a POST after a 5xx.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hmrclib import HMRCClient, HMRCClientError, HMRCNotFoundError, OAuth2Client, Settings
from hmrclib.generated.clients import VatApiClient

from tests.hmrc_sandbox.helpers import REDIRECT_URI, Simulator, redirect_params, valid_return


async def _vat_client(simulator: Simulator) -> tuple[VatApiClient, str, Settings]:
    settings = Settings(
        base_url=simulator.url,
        client_id=simulator.client_id,
        client_secret=simulator.client_secret,
        redirect_uri=REDIRECT_URI,
        max_retries=2,
        retry_backoff_base=0,
    )
    user = await simulator.create_user()
    consent = await simulator.authorize(user)  # hmrclib has no browser; post the form
    code = redirect_params(consent)["code"]
    oauth = OAuth2Client(settings=settings)
    await asyncio.to_thread(oauth.authorization_code, code)
    return VatApiClient(HMRCClient(settings=settings, oauth=oauth)), user.vrn, settings


async def test_hmrclib_runs_the_vat_api_against_the_simulator(simulator: Simulator) -> None:
    vat, vrn, _ = await _vat_client(simulator)

    def journey() -> dict[str, Any]:
        open_ = vat.get_organisations_vat_obligations(vrn, status="O")
        key = open_["obligations"][0]["periodKey"]
        receipt = vat.post_organisations_vat_returns(vrn, body=valid_return(key))
        viewed = vat.get_organisations_vat_returns(vrn, key)
        fulfilled = vat.get_organisations_vat_obligations(
            vrn,
            from_=open_["obligations"][0]["start"],
            to=open_["obligations"][0]["end"],
            status="F",
        )
        liabilities = vat.get_organisations_vat_liabilities(
            vrn,
            from_="2017-04-05",
            to="2017-12-21",
            headers={"Gov-Test-Scenario": "MULTIPLE_LIABILITIES"},
        )
        payments = vat.get_organisations_vat_payments(
            vrn,
            from_="2017-01-02",
            to="2017-02-02",
            headers={"Gov-Test-Scenario": "SINGLE_PAYMENT"},
        )
        return {
            "key": key,
            "receipt": receipt,
            "viewed": viewed,
            "fulfilled": fulfilled,
            "liabilities": liabilities,
            "payments": payments,
        }

    seen = await asyncio.to_thread(journey)
    assert len(seen["receipt"]["formBundleNumber"]) == 12
    assert seen["viewed"]["periodKey"] == seen["key"]
    assert seen["viewed"]["netVatDue"] == 100.1 and "finalised" not in seen["viewed"]
    assert [o["periodKey"] for o in seen["fulfilled"]["obligations"]] == [seen["key"]]
    assert len(seen["liabilities"]["liabilities"]) == 3
    assert seen["payments"]["payments"][0]["amount"] == 100.05


async def test_hmrclib_sends_a_hash_period_key_unencoded(simulator: Simulator) -> None:
    vat, vrn, _ = await _vat_client(simulator)
    await asyncio.to_thread(vat.post_organisations_vat_returns, vrn, valid_return("#001"))
    # '#001' starts a URL fragment, so the request reaches .../returns/ - no such resource.
    with pytest.raises(HMRCNotFoundError) as raised:
        await asyncio.to_thread(vat.get_organisations_vat_returns, vrn, "#001")
    assert raised.value.code == "MATCHING_RESOURCE_NOT_FOUND"
    assert (await asyncio.to_thread(vat.get_organisations_vat_returns, vrn, "%23001"))[
        "periodKey"
    ] == "#001"


async def test_hmrclib_retrying_a_lost_submission_meets_duplicate_submission(
    simulator: Simulator,
) -> None:
    vat, vrn, _ = await _vat_client(simulator)
    await simulator.control(
        "PUT", "/faults/submit_return", {"after_accept": "error", "remaining": 1}
    )
    with pytest.raises(HMRCClientError) as raised:
        await asyncio.to_thread(vat.post_organisations_vat_returns, vrn, valid_return("24A1"))
    assert raised.value.status_code == 403
    assert '"DUPLICATE_SUBMISSION"' in (raised.value.body or "")
    counters = await simulator.counters()
    assert counters["returnsStored"][vrn] == {"24A1": 1}
    assert counters["duplicateSubmissions"][vrn] == {"24A1": 1}
