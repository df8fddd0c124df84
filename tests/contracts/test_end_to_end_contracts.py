"""One end-to-end journey through every service (connect a VRN, read obligations,
liabilities and payments, submit a return that the real worker sends to HMRC, view it),
then the contracts are checked against what really happened:

- every message published on NATS during the journey follows `contracts/asyncapi.yaml` and
  its event's JSON Schema;
- every request the gateway sent to HMRC, and every response the simulator gave, follows
  HMRC's published VAT API OpenAPI document."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from nats.aio.client import Client
from nats.js.errors import NotFoundError

from contracts import events, hmrc_vat
from services.common import jsonutil
from services.common.messaging import streams
from services.common.messaging.connection import connect
from tests.auth.conftest import bearer
from tests.contracts.conftest import Stack
from tests.hmrc_gateway import devices
from tests.submission.returns import hmrc_json, vat_return


@dataclass(frozen=True)
class Message:
    stream: str
    subject: str
    headers: dict[str, str]
    payload: Any


@pytest.fixture(scope="module")
async def broker(nats_url: str) -> AsyncIterator[Client]:
    client = await connect(nats_url, name="contracts-tests")
    yield client
    await client.close()


async def _last_sequences(nc: Client) -> dict[str, int]:
    js, marks = nc.jetstream(), {}
    for spec in streams.ALL:
        try:
            marks[spec.name] = (await js.stream_info(spec.name)).state.last_seq
        except NotFoundError:
            marks[spec.name] = 0
    return marks


@pytest.fixture(scope="module")
async def marks(broker: Client) -> dict[str, int]:
    """Where each stream stood before this module's services started."""
    return await _last_sequences(broker)


async def _messages_since(nc: Client, marks: dict[str, int]) -> list[Message]:
    js, found = nc.jetstream(), []
    now = await _last_sequences(nc)
    for name, start in marks.items():
        for seq in range(start + 1, now[name] + 1):
            try:
                raw = await js.get_msg(name, seq)
            except NotFoundError:  # purged or deleted by another suite's fixture
                continue
            payload = jsonutil.loads(raw.data) if raw.data else None
            found.append(Message(name, str(raw.subject), dict(raw.headers or {}), payload))
    return found


@pytest.fixture(scope="module")
async def journey(marks: dict[str, int], stack: Stack, broker: Client) -> list[Message]:
    tenant = await stack.tenant(vrns=1, roles=("submitter", "viewer"))
    vrn, token = tenant.vrns[0], tenant.tokens["submitter"]
    user = await stack.auth.create_user(tenant.id, ["viewer"])
    await stack.auth.enrol(user)
    async with httpx.AsyncClient(timeout=30) as http:
        read = {**devices.web_headers(), **bearer(tenant.tokens["viewer"])}
        obligations = stack.urls["obligations"]
        r = await http.get(
            f"{obligations}/v1/vat/{vrn}/obligations", params={"status": "O"}, headers=read
        )
        assert r.status_code == 200, r.text
        period = r.json()["obligations"][0]["periodKey"]
        window = {"from": str(date.today() - timedelta(days=300)), "to": str(date.today())}
        for what in ("liabilities", "payments"):
            r = await http.get(f"{obligations}/v1/vat/{vrn}/{what}", params=window, headers=read)
            # A new taxpayer may have nothing to show yet: HMRC answers 404 NOT_FOUND.
            assert r.status_code in (200, 404), r.text

        submission = stack.urls["submission"]
        accepted = await http.post(
            f"{submission}/v1/vat/{vrn}/returns",
            content=hmrc_json(vat_return(period)),
            headers={
                **devices.web_headers(),
                **bearer(token),
                "Idempotency-Key": uuid.uuid4().hex,
                "content-type": "application/json",
            },
        )
        assert accepted.status_code == 202, accepted.text
        status_url = submission + accepted.headers["location"]
        async with asyncio.timeout(30):
            while (done := (await http.get(status_url, headers=bearer(token))).json())[
                "status"
            ] != "accepted":
                assert done["status"] not in ("rejected", "uncertain"), done
                await asyncio.sleep(0.2)

        gateway = stack.urls["hmrc_gateway"]
        r = await http.get(
            f"{gateway}/internal/v1/vat/{vrn}/returns/{period}",
            params={"tenant_id": tenant.id},
            headers={**devices.web_headers(), **bearer(await stack.service_token("submission"))},
        )
        assert r.status_code == 200, r.text

    # The outbox relays publish after commit: wait until the last facts are on the streams,
    # and one audit record per HMRC exchange of the VAT API has arrived.
    wanted = {"submission.accepted", "audit.submission.accepted", "audit.auth.mfa_enrolled"}
    async with asyncio.timeout(20):
        while True:
            messages = await _messages_since(broker, marks)
            subjects = [m.subject for m in messages]
            if wanted <= set(subjects) and subjects.count("audit.hmrc.exchange") >= _vat_calls(
                stack
            ):
                break
            await asyncio.sleep(0.2)
    return messages


def _vat_calls(stack: Stack) -> int:
    return sum(e.path.startswith("/organisations/vat/") for e in stack.hmrc.exchanges)


async def test_every_published_event_follows_its_schema(journey: list[Message]) -> None:
    channels = events.channels()
    problems = [p for m in journey for p in events.problems(m.subject, m.payload, channels)]
    assert not problems, "\n".join(problems[:40])
    subjects = {m.subject for m in journey}
    # The journey exercised every kind of event the platform publishes in a success path.
    assert {
        "submission.received",
        "submission.queued",
        "submission.submitting",
        "submission.accepted",
        "audit.submission.accepted",
        "audit.hmrc.exchange",
        "audit.auth.tenant_created",
        "audit.auth.client_created",
        "audit.auth.connection_created",
        "audit.auth.user_created",
        "audit.auth.mfa_enrolled",
    } <= subjects, sorted(subjects)
    used = {c.name for s in subjects if (c := events.channel_for(s, channels))}
    assert used >= {
        "submissionState",
        "auditSubmissionState",
        "auditHmrcExchange",
        "auditPrivilegedAction",
    }


async def test_every_event_carries_its_outbox_id_and_trace_context(journey: list[Message]) -> None:
    for m in journey:
        assert uuid.UUID(m.headers["Nats-Msg-Id"]), m
        assert m.headers.get("traceparent", "").startswith("00-"), m


async def test_gateway_requests_follow_hmrc_openapi(journey: list[Message], stack: Stack) -> None:
    vat = [e for e in stack.hmrc.exchanges if e.path.startswith("/organisations/vat/")]
    operations = {op.id for e in vat if (op := hmrc_vat.find(e.method, e.path))}
    assert {
        "RetrieveVATobligations",
        "RetrieveVATliabilities",
        "RetrieveVATpayments",
        "SubmitVATreturnforperiod",
        "ViewVATReturn",
    } <= operations, operations
    problems = [
        p
        for e in vat
        for p in hmrc_vat.request_problems(
            e.method, e.path, e.query, e.request_headers, e.request_body
        )
    ]
    assert not problems, "\n".join(problems)
    # Anything else the gateway called is HMRC's fraud-header test API, not the VAT API.
    others = {e.path for e in stack.hmrc.exchanges} - {e.path for e in vat}
    assert all(p.startswith("/test/fraud-prevention-headers/") for p in others), others


async def test_simulator_responses_follow_hmrc_openapi(
    journey: list[Message], stack: Stack
) -> None:
    vat = [e for e in stack.hmrc.exchanges if e.path.startswith("/organisations/vat/")]
    assert any(e.status == 201 for e in vat) and any(e.status == 200 for e in vat)
    problems = [
        p
        for e in vat
        for p in hmrc_vat.response_problems(e.method, e.path, e.status, e.response_body)
    ]
    assert not problems, "\n".join(problems)


async def test_the_checks_catch_a_request_hmrc_would_refuse(
    stack: Stack, journey: list[Message]
) -> None:
    submit = next(e for e in stack.hmrc.exchanges if e.method == "POST")
    body = json.loads(submit.request_body)
    broken = json.dumps({**body, "periodKey": "X" + body["periodKey"]}).encode()
    found = hmrc_vat.request_problems("POST", submit.path, {}, submit.request_headers, broken)
    assert any("/periodKey" in p for p in found), found
    found = hmrc_vat.request_problems("POST", submit.path, {"x": "1"}, {}, submit.request_body)
    assert any("Bearer" in p for p in found) and any("Accept" in p for p in found), found
    # HMRC's code answers an unknown period key with an empty 404; elsewhere a body is due.
    view = f"{submit.path}/{body['periodKey']}"
    assert hmrc_vat.response_problems("GET", view, 404, b"") == []
    assert hmrc_vat.response_problems(
        "GET", submit.path.replace("returns", "obligations"), 404, b""
    )
    found = hmrc_vat.response_problems("POST", submit.path, 201, b'{"processingDate": 1}')
    assert any("formBundleNumber" in p for p in found), found
