"""A return from an API client's POST to HMRC's receipt, every service real: the period is
checked against the obligations service, the worker submits through the gateway with the
tokens auth holds for the connected VRN, and the status URL shows the receipt."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest
from pydantic import SecretStr

from services.common.database import Database
from services.submission.app import create_app
from services.submission.settings import SubmissionSettings
from services.submission.worker import Worker
from tests.auth.conftest import bearer
from tests.conftest import fresh_database
from tests.hmrc_gateway import devices
from tests.obligations.conftest import Platform, platform
from tests.serving import serve
from tests.submission.returns import hmrc_json, vat_return

__all__ = ["platform"]


@pytest.fixture
async def submission(
    pg_url: str, nats_url: str, platform: Platform
) -> AsyncIterator[tuple[httpx.AsyncClient, object]]:
    settings = SubmissionSettings(
        environment="test",
        database_url=SecretStr(await fresh_database(pg_url, "submission")),
        nats_url=nats_url,
        auth_url=platform.auth.url,
        client_id="submission",
        client_secret=SecretStr(platform.auth.settings.service_client_secrets()["submission"]),
        hmrc_gateway_url=platform.gateway_url,
        obligations_url=platform.url,
        workers=0,  # the test drives the worker itself, one step at a time
    )
    app = create_app(settings)
    async with serve(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as http:
        yield http, app


async def test_post_to_receipt(
    platform: Platform, submission: tuple[httpx.AsyncClient, object]
) -> None:
    api, app = submission
    tenant = await platform.tenant()
    vrn = tenant.vrns[0]
    token = await platform.auth.token_for_roles(tenant.id, ["submitter"])
    r = await platform.get(f"/v1/vat/{vrn}/obligations", token, {"status": "O"})
    assert r.status_code == 200, r.text
    period = r.json()["obligations"][0]["periodKey"]
    headers = {
        **bearer(token),
        **devices.web_headers(),
        "Idempotency-Key": uuid.uuid4().hex,
        "content-type": "application/json",
    }
    body = hmrc_json(vat_return(period))

    accepted = await api.post(f"/v1/vat/{vrn}/returns", content=body, headers=headers)
    assert accepted.status_code == 202, accepted.text
    status_url = accepted.headers["location"]
    assert accepted.json()["status"] == "queued"
    # The same request again is the same answer, not a second return.
    again = await api.post(f"/v1/vat/{vrn}/returns", content=body, headers=headers)
    assert again.status_code == 202
    assert again.json()["id"] == accepted.json()["id"]
    # The same key with another body is refused; another key for the period is a conflict.
    other = hmrc_json(vat_return(period, vatDueSales="1.00", totalVatDue="1.00", netVatDue="39.00"))
    r = await api.post(f"/v1/vat/{vrn}/returns", content=other, headers=headers)
    assert (r.status_code, r.json()["code"]) == (422, "IDEMPOTENCY_KEY_REUSED")
    r = await api.post(
        f"/v1/vat/{vrn}/returns",
        content=body,
        headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert (r.status_code, r.json()["code"]) == (409, "RETURN_EXISTS_FOR_PERIOD")
    assert r.json()["submission"] == status_url

    queued = (await api.get(status_url, headers=bearer(token))).json()
    assert queued["queue"]["ahead"] == 0
    assert queued["queue"]["estimatedSubmissionAt"]

    runtime = app.state.runtime  # type: ignore[attr-defined]
    db: Database = runtime.database()
    assert await Worker(db, app.state.hmrc, "e2e").run_once()  # type: ignore[attr-defined]

    done = (await api.get(status_url, headers=bearer(token))).json()
    assert done["status"] == "accepted", done
    assert done["receipt"]["formBundleNumber"]
    assert [h["to"] for h in done["history"]] == ["received", "queued", "submitting", "accepted"]
    # The tenant's viewer sees it; another tenant's does not.
    stranger = await platform.tenant(vrns=0)
    r = await api.get(status_url, headers=bearer(stranger.token))
    assert r.status_code == 404


async def test_a_period_that_is_not_open_is_refused(
    platform: Platform, submission: tuple[httpx.AsyncClient, object]
) -> None:
    api, _ = submission
    tenant = await platform.tenant()
    token = await platform.auth.token_for_roles(tenant.id, ["submitter"])
    r = await api.post(
        f"/v1/vat/{tenant.vrns[0]}/returns",
        content=hmrc_json(vat_return("99Z9")),
        headers={
            **bearer(token),
            **devices.web_headers(),
            "Idempotency-Key": uuid.uuid4().hex,
            "content-type": "application/json",
        },
    )
    assert (r.status_code, r.json()["code"]) == (422, "PERIOD_NOT_OPEN")


async def test_view_at_hmrc_by_period_and_a_scenario_reaches_the_submission(
    platform: Platform, submission: tuple[httpx.AsyncClient, object]
) -> None:
    api, app = submission
    tenant = await platform.tenant()
    vrn = tenant.vrns[0]
    token = await platform.auth.token_for_roles(tenant.id, ["submitter"])
    r = await platform.get(f"/v1/vat/{vrn}/obligations", token, {"status": "O"})
    periods = [o["periodKey"] for o in r.json()["obligations"]]
    headers = {**bearer(token), **devices.web_headers(), "content-type": "application/json"}
    runtime = app.state.runtime  # type: ignore[attr-defined]
    worker = Worker(runtime.database(), app.state.hmrc, "e2e")  # type: ignore[attr-defined]

    # Nothing filed yet: HMRC's own 404, passed on with its code.
    view = f"/v1/vat/{vrn}/returns/by-period/{periods[0].replace('#', '%23')}"
    r = await api.get(view, headers=headers)
    assert r.status_code == 404, r.text
    assert r.headers["content-type"].startswith("application/problem+json")

    sent = vat_return(periods[0])
    r = await api.post(
        f"/v1/vat/{vrn}/returns",
        content=hmrc_json(sent),
        headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert r.status_code == 202, r.text
    assert await worker.run_once()
    r = await api.get(view, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["periodKey"] == periods[0]
    assert Decimal(str(r.json()["netVatDue"])) == sent["netVatDue"]

    # A Gov-Test-Scenario is meant for the submission, not the period check: the return is
    # accepted for sending and HMRC's scenario answer becomes the rejection.
    r = await api.post(
        f"/v1/vat/{vrn}/returns",
        content=hmrc_json(vat_return(periods[1])),
        headers={
            **headers,
            "Idempotency-Key": uuid.uuid4().hex,
            "Gov-Test-Scenario": "TAX_PERIOD_NOT_ENDED",
        },
    )
    assert r.status_code == 202, r.text
    assert await worker.run_once()
    done = (await api.get(r.headers["location"], headers=bearer(token))).json()
    assert done["status"] == "rejected", done
    assert done["error"]["code"] == "TAX_PERIOD_NOT_ENDED"

    # Another tenant cannot read this VRN's return at HMRC.
    stranger = await platform.tenant(vrns=0)
    r = await api.get(view, headers={**bearer(stranger.token), **devices.web_headers()})
    assert r.status_code in (403, 404, 409), r.text
    assert "periodKey" not in r.json()
