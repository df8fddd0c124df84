"""The public returns API: what is refused before anything is accepted, and why."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import SecretStr

from services.stack.embedded import free_port
from services.submission.app import create_app
from services.submission.settings import SubmissionSettings
from tests.auth.conftest import AuthApi, bearer
from tests.conftest import fresh_database
from tests.serving import serve
from tests.submission.returns import hmrc_json, vat_return

VRN = "123456789"


@pytest.fixture
async def api(pg_url: str, nats_url: str, auth_api: AuthApi) -> AsyncIterator[httpx.AsyncClient]:
    settings = SubmissionSettings(
        environment="test",
        database_url=SecretStr(await fresh_database(pg_url, "submission")),
        nats_url=nats_url,
        auth_url=auth_api.url,
        workers=0,
        # Nothing listens there: these tests never get as far as the obligation check.
        obligations_url=f"http://127.0.0.1:{free_port()}",
        hmrc_gateway_url=f"http://127.0.0.1:{free_port()}",
    )
    async with serve(create_app(settings)) as url, httpx.AsyncClient(base_url=url) as http:
        yield http


@pytest.fixture
async def submitter(auth_api: AuthApi) -> dict[str, str]:
    tenant = await auth_api.create_tenant()
    return bearer(await auth_api.token_for_roles(tenant, ["submitter"]))


async def post(
    api: httpx.AsyncClient, headers: dict[str, str], body: str, key: str | None = "k1"
) -> httpx.Response:
    extra = {"Idempotency-Key": key} if key else {}
    return await api.post(
        f"/v1/vat/{VRN}/returns",
        content=body,
        headers={**headers, **extra, "content-type": "application/json"},
    )


async def test_a_token_with_the_submit_scope_is_required(
    api: httpx.AsyncClient, auth_api: AuthApi
) -> None:
    r = await post(api, {}, hmrc_json(vat_return()))
    assert r.status_code == 401
    tenant = await auth_api.create_tenant()
    viewer = bearer(await auth_api.token_for_roles(tenant, ["viewer"]))
    r = await post(api, viewer, hmrc_json(vat_return()))
    assert r.status_code == 403
    assert r.headers["content-type"] == "application/problem+json"


async def test_idempotency_key_is_required(
    api: httpx.AsyncClient, submitter: dict[str, str]
) -> None:
    r = await post(api, submitter, hmrc_json(vat_return()), key=None)
    assert r.status_code == 400
    assert r.json()["code"] == "IDEMPOTENCY_KEY_REQUIRED"


async def test_malformed_json_is_a_clear_400(
    api: httpx.AsyncClient, submitter: dict[str, str]
) -> None:
    r = await post(api, submitter, '{"periodKey": ')
    assert r.status_code == 400
    assert r.json()["code"] == "INVALID_JSON"


async def test_boxes_are_validated_as_hmrc_does_with_its_codes_and_paths(
    api: httpx.AsyncClient, submitter: dict[str, str]
) -> None:
    r = await post(api, submitter, hmrc_json(vat_return(totalVatDue="100.11", netVatDue="60.11")))
    assert r.status_code == 400
    body = r.json()
    assert body["code"] == "INVALID_REQUEST"
    assert [e["code"] for e in body["errors"]] == ["VAT_TOTAL_VALUE"]

    r = await post(api, submitter, hmrc_json(vat_return(vatDueSales="1.234")))
    assert r.status_code == 400
    paths = {e["path"] for e in r.json()["errors"]}
    assert "/vatDueSales" in paths

    body_without_box = vat_return()
    del body_without_box["netVatDue"]
    r = await post(api, submitter, hmrc_json(body_without_box))
    assert r.status_code == 400
    assert {e["path"] for e in r.json()["errors"]} == {"/netVatDue"}


async def test_the_declaration_must_be_confirmed(
    api: httpx.AsyncClient, submitter: dict[str, str]
) -> None:
    r = await post(api, submitter, hmrc_json(vat_return(finalised=False)))
    assert r.status_code == 403
    assert r.json()["code"] == "NOT_FINALISED"


async def test_unreachable_obligations_is_a_503_and_nothing_is_accepted(
    api: httpx.AsyncClient, submitter: dict[str, str]
) -> None:
    r = await post(api, submitter, hmrc_json(vat_return()), key=uuid.uuid4().hex)
    assert r.status_code == 503
    assert r.json()["code"] == "OBLIGATIONS_UNAVAILABLE"
    assert int(r.headers["retry-after"]) > 0


async def test_status_says_degraded_when_the_gateway_cannot_be_reached(
    api: httpx.AsyncClient, submitter: dict[str, str]
) -> None:
    assert (await api.get("/v1/status")).status_code == 401
    r = await api.get("/v1/status", headers=submitter)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "degraded"
    assert body["hmrc"]["gatewayReachable"] is False
    assert body["queue"] == {
        "waiting": 0,
        "oldestWaitingSeconds": 0.0,
        "estimatedDelaySeconds": 0.0,
    }
