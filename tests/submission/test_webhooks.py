"""Webhooks against the real chain (auth, simulator, gateway, obligations, submission's own
worker, NATS, PostgreSQL) and a real HTTP receiver: a delivery survives the receiver being
down for a minute and the service restarting, every signature verifies, the delivery log
shows each attempt, and webhooks are the registering tenant's alone."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import uvicorn
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.common.database import Database
from services.common.errors import ProblemError
from services.stack.embedded import free_port
from services.submission import ledger
from services.submission.app import create_app
from services.submission.settings import SubmissionSettings
from services.submission.states import State
from services.submission.webhooks import delivery, fanout, signing, urls
from services.submission.webhooks.models import Delivery, Webhook
from services.submission.webhooks.sealing import SealError, SecretBox
from tests.auth.conftest import bearer
from tests.conftest import fresh_database, sql
from tests.hmrc_gateway import devices
from tests.obligations.conftest import Platform, platform
from tests.serving import serve
from tests.submission.returns import hmrc_json, vat_return

__all__ = ["platform"]

DOWN_FOR_S = 60.0


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """An HTTP endpoint that records what it is sent, on a port chosen up front so it can
    come up after the webhook pointing at it was registered."""

    port: int = field(default_factory=free_port)
    got: list[Received] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/mtd"

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        async def hook(request: Request) -> Response:
            self.got.append(Received(dict(request.headers), await request.body()))
            return Response(status_code=204)

        app = Starlette(routes=[Route("/hooks/mtd", hook, methods=["POST"])])
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_config=None, access_log=False
        )
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve())
        async with asyncio.timeout(10):
            while not server.started:
                await asyncio.sleep(0.02)
        try:
            yield
        finally:
            server.should_exit = True
            await asyncio.wait_for(task, 10)


@pytest.fixture
async def settings(pg_url: str, nats_url: str, platform: Platform) -> SubmissionSettings:
    return SubmissionSettings(
        environment="test",
        database_url=SecretStr(await fresh_database(pg_url, "submission")),
        nats_url=nats_url,
        auth_url=platform.auth.url,
        client_id="submission",
        client_secret=SecretStr(platform.auth.settings.service_client_secrets()["submission"]),
        hmrc_gateway_url=platform.gateway_url,
        obligations_url=platform.url,
        workers=1,
        poll_seconds=0.2,
        webhook_keys=SecretStr(base64.b64encode(secrets.token_bytes(32)).decode()),
        # Seconds, not minutes: 2, 4, 8, 8 … (less jitter) so a minute's outage is ~8 tries.
        webhook_backoff_base_seconds=2.0,
        webhook_backoff_cap_seconds=8.0,
        webhook_poll_seconds=0.2,
        webhook_durable=f"webhooks-{uuid.uuid4().hex[:8]}",
    )


@asynccontextmanager
async def submission_service(settings: SubmissionSettings) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(create_app(settings)) as url, httpx.AsyncClient(base_url=url) as http:
        yield http


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.3)


async def deliveries(api: httpx.AsyncClient, hook_id: str, token: str) -> list[dict[str, Any]]:
    r = await api.get(f"/v1/webhooks/{hook_id}/deliveries", headers=bearer(token))
    assert r.status_code == 200, r.text
    found: list[dict[str, Any]] = r.json()["deliveries"]
    return found


async def submit(platform: Platform, api: httpx.AsyncClient, vrn: str, token: str) -> str:
    r = await platform.get(f"/v1/vat/{vrn}/obligations", token, {"status": "O"})
    assert r.status_code == 200, r.text
    period = r.json()["obligations"][0]["periodKey"]
    r = await api.post(
        f"/v1/vat/{vrn}/returns",
        content=hmrc_json(vat_return(period)),
        headers={
            **bearer(token),
            **devices.web_headers(),
            "Idempotency-Key": uuid.uuid4().hex,
            "content-type": "application/json",
        },
    )
    assert r.status_code == 202, r.text
    return str(r.json()["id"])


async def test_delivery_survives_a_minute_of_receiver_outage_and_a_restart(
    platform: Platform, settings: SubmissionSettings
) -> None:
    tenant = await platform.tenant()
    token = await platform.auth.token_for_roles(tenant.id, ["submitter"])
    receiver = Receiver()  # not listening yet: every attempt is refused
    down_since = time.monotonic()

    async with submission_service(settings) as api:
        r = await api.post(
            "/v1/webhooks",
            json={"url": receiver.url, "description": "bookkeeping sync"},
            headers=bearer(token),
        )
        assert r.status_code == 201, r.text
        hook = r.json()
        secret = hook["secret"]
        assert secret.startswith("whsec_")
        assert hook["events"] == ["return.accepted", "return.rejected"]
        listed = (await api.get("/v1/webhooks", headers=bearer(token))).json()["webhooks"]
        assert [h["id"] for h in listed] == [hook["id"]]
        assert secret not in json.dumps(listed)  # shown once, never again
        sid = await submit(platform, api, tenant.vrns[0], token)

        async def failing() -> list[dict[str, Any]]:
            found = await deliveries(api, hook["id"], token)
            return found if found and found[0]["attempts"] >= 2 else []

        log = await eventually(failing, 30, "two refused attempts")
        assert log[0]["state"] == "pending"
        assert log[0]["lastError"] and log[0]["lastStatus"] is None
        assert log[0]["submissionId"] == sid

    # The service restarts while the receiver is still down; nothing is lost.
    async with submission_service(settings) as api:
        await asyncio.sleep(max(0.0, DOWN_FOR_S - (time.monotonic() - down_since)))
        before = (await deliveries(api, hook["id"], token))[0]
        assert before["state"] == "pending"
        assert before["attempts"] >= 5, before  # it kept trying through the minute
        async with receiver.running():

            async def delivered() -> list[dict[str, Any]]:
                found = await deliveries(api, hook["id"], token)
                return found if found[0]["state"] == "delivered" else []

            log = await eventually(delivered, 20, "the delivery once the receiver is back")
        assert time.monotonic() - down_since < 90

    assert len(receiver.got) == 1
    got = receiver.got[0]
    assert signing.verify(secret, got.headers["mtd-signature"], got.body)
    assert not signing.verify(secret, got.headers["mtd-signature"], got.body + b" ")
    assert not signing.verify("whsec_other", got.headers["mtd-signature"], got.body)
    event = json.loads(got.body)
    assert event["type"] == "return.accepted"
    assert event["id"] == got.headers["mtd-delivery-id"] == log[0]["id"]
    assert event["data"]["submissionId"] == sid
    assert event["data"]["status"] == "accepted"
    assert event["data"]["receipt"]["formBundleNumber"]
    attempts = log[0]["attemptLog"]
    assert len(attempts) == log[0]["attempts"] >= 6
    assert all(a["error"] and a["statusCode"] is None for a in attempts[:-1])
    assert (attempts[-1]["statusCode"], attempts[-1]["error"]) == (204, None)
    # Retries back off: the gaps grow from the base towards the cap.
    gaps = [
        (datetime.fromisoformat(b["at"]) - datetime.fromisoformat(a["at"])).total_seconds()
        for a, b in itertools.pairwise(attempts)
    ]
    assert gaps[0] < 3 and max(gaps) >= 4, gaps


async def test_tenants_see_only_their_webhooks_and_bad_urls_are_refused(
    platform: Platform, settings: SubmissionSettings
) -> None:
    owner = await platform.tenant()
    token = await platform.auth.token_for_roles(owner.id, ["submitter"])
    other = await platform.tenant(vrns=0)
    other_token = await platform.auth.token_for_roles(other.id, ["tenant_admin"])
    receiver = Receiver()
    async with submission_service(settings) as api, receiver.running():
        r = await api.post("/v1/webhooks", json={"url": receiver.url}, headers=bearer(token))
        assert r.status_code == 201, r.text
        hook = r.json()

        # Another tenant cannot see, read, read the log of, or delete it.
        r = await api.get("/v1/webhooks", headers=bearer(other_token))
        assert r.json() == {"webhooks": []}
        for method, path in (
            ("GET", f"/v1/webhooks/{hook['id']}"),
            ("GET", f"/v1/webhooks/{hook['id']}/deliveries"),
            ("DELETE", f"/v1/webhooks/{hook['id']}"),
        ):
            r = await api.request(method, path, headers=bearer(other_token))
            assert (r.status_code, r.json()["code"]) == (404, "WEBHOOK_NOT_FOUND"), path
        r = await api.get(f"/v1/webhooks/{hook['id']}", headers=bearer(token))
        assert r.status_code == 200 and "secret" not in r.json()

        # Bad URLs and bad bodies are problem documents, never a 500.
        for bad in (
            "ftp://example.com/hook",
            "not a url",
            "http://user:pw@example.com/hook",
            "https:///no-host",
            "https://example.com/hook#frag",
            "https://example.com:99999/hook",
            "",
        ):
            r = await api.post("/v1/webhooks", json={"url": bad}, headers=bearer(token))
            assert r.status_code == 422, (bad, r.text)
            assert r.headers["content-type"] == "application/problem+json"
            assert r.json()["code"] == "WEBHOOK_URL_INVALID", bad
        for body in ({"url": receiver.url, "events": ["return.bogus"]}, {"nope": 1}, [1]):
            r = await api.post("/v1/webhooks", json=body, headers=bearer(token))
            assert (r.status_code, r.json()["code"]) == (422, "INVALID_REQUEST"), body
        viewer = await platform.auth.token_for_roles(owner.id, ["viewer"])
        r = await api.post("/v1/webhooks", json={"url": receiver.url}, headers=bearer(viewer))
        assert (r.status_code, r.json()["code"]) == (403, "FORBIDDEN")

        # A rejected return is announced too, with HMRC's code; the signature verifies.
        db = Database(settings.database_url.get_secret_value())  # type: ignore[union-attr]
        try:
            async with db.transaction() as session:
                rejected = await ledger.create(
                    session,
                    tenant_id=owner.id,
                    vrn=owner.vrns[0],
                    due_date=date.today() + timedelta(days=10),
                    idempotency_key=uuid.uuid4().hex,
                    vat_return=vat_return("A002", totalVatDue="999.99"),
                    client_context={
                        "device": devices.device("DESKTOP_APP_VIA_SERVER"),
                        "connection": devices.connection(),
                    },
                )
        finally:
            await db.dispose()

        async def announced() -> list[Received]:
            return receiver.got

        await eventually(announced, 30, "the rejection's delivery")
        got = receiver.got[0]
        assert signing.verify(hook["secret"], got.headers["mtd-signature"], got.body)
        event = json.loads(got.body)
        assert event["type"] == "return.rejected"
        assert event["data"]["submissionId"] == str(rejected.id)
        assert event["data"]["error"]["code"] == "INVALID_REQUEST"
        log = await deliveries(api, hook["id"], token)
        assert [(d["state"], d["attempts"]) for d in log] == [("delivered", 1)]

        # Deleting stops it; it is gone for its tenant too.
        r = await api.delete(f"/v1/webhooks/{hook['id']}", headers=bearer(token))
        assert r.status_code == 204
        r = await api.get(f"/v1/webhooks/{hook['id']}", headers=bearer(token))
        assert r.status_code == 404
        assert (await api.get("/v1/webhooks", headers=bearer(token))).json() == {"webhooks": []}


async def test_without_keys_registration_says_so(
    platform: Platform, settings: SubmissionSettings
) -> None:
    tenant = await platform.tenant(vrns=0)
    token = await platform.auth.token_for_roles(tenant.id, ["submitter"])
    unkeyed = settings.model_copy(update={"webhook_keys": None})
    async with submission_service(unkeyed) as api:
        r = await api.post(
            "/v1/webhooks", json={"url": "https://example.com/hook"}, headers=bearer(token)
        )
        assert (r.status_code, r.json()["code"]) == (503, "WEBHOOKS_NOT_CONFIGURED")


async def test_the_sweep_delivers_what_jetstream_lost(pg_url: str) -> None:
    """PostgreSQL is the source of truth: a final transition with no delivery (its event
    never reached the consumer) gets one from the sweep, once, for the webhooks that want it
    and existed at the time."""
    db = Database(await fresh_database(pg_url, "submission"))
    box = SecretBox([secrets.token_bytes(32)])
    tenant, now = str(uuid.uuid4()), datetime.now(UTC)

    def hook(created: datetime, events: list[str]) -> Webhook:
        hook_id = uuid.uuid4()
        return Webhook(
            id=hook_id,
            tenant_id=tenant,
            url="https://receiver.example/hook",
            events=events,
            secret_sealed=box.seal("whsec_x", f"webhook:{hook_id}"),
            created_by="test",
            created_at=created,
        )

    wants = hook(now - timedelta(hours=1), ["return.accepted", "return.rejected"])
    only_rejections = hook(now - timedelta(hours=1), ["return.rejected"])
    too_late = hook(now + timedelta(minutes=5), ["return.accepted"])
    try:
        async with db.transaction() as session:
            session.add_all([wants, only_rejections, too_late])
            sub = await ledger.create(
                session,
                tenant_id=tenant,
                vrn="123456789",
                due_date=date.today() + timedelta(days=10),
                idempotency_key=uuid.uuid4().hex,
                vat_return=vat_return("A003"),
                client_context={},
            )
            await ledger.move(session, sub, State.SUBMITTING)
            await ledger.move(session, sub, State.ACCEPTED, receipt={"formBundleNumber": "1"})
        # Recent events are the consumers' for a while; this one is older than that.
        await sql(
            settings_url(db),
            f"UPDATE submission_transitions SET at = now() - interval '2 minutes' "
            f"WHERE submission_id = '{sub.id}'",
        )
        assert await fanout.sweep(db, timedelta(hours=1)) == 1
        assert await fanout.sweep(db, timedelta(hours=1)) == 0
        async with db.sessions() as session:
            rows = (await session.execute(sa.select(Delivery))).scalars().all()
        assert [(r.webhook_id, r.event, r.state) for r in rows] == [
            (wants.id, "return.accepted", "pending")
        ]
        assert rows[0].payload["data"]["receipt"] == {"formBundleNumber": "1"}
        assert rows[0].payload["id"] == str(rows[0].id)
    finally:
        await db.dispose()


def settings_url(db: Database) -> str:
    return db.url.render_as_string(hide_password=False)


async def test_production_sends_only_to_public_https_hosts() -> None:
    for bad in (
        "http://receiver.example/hook",
        "https://localhost/hook",
        "https://127.0.0.1/hook",
        "https://10.1.2.3/hook",
        "https://[fe80::1]/hook",
        "https://billing.internal/hook",
    ):
        with pytest.raises(ProblemError) as refused:
            urls.check(bad, production=True)
        assert (refused.value.status, refused.value.code) == (422, "WEBHOOK_URL_INVALID"), bad
    assert urls.check("https://receiver.example/hook", production=True)
    assert urls.check("http://127.0.0.1:8080/hook", production=False)

    # At delivery time, too: a name or address that is internal now is not sent to.
    assert await urls.resolves_internal("https://81.2.69.160/hook") is None
    assert await urls.resolves_internal("https://10.1.2.3/hook")
    assert await urls.resolves_internal("https://localhost/hook")
    receiver = Receiver()
    box = SecretBox([secrets.token_bytes(32)])
    hook_id = uuid.uuid4()
    item = delivery.Claimed(
        id=uuid.uuid4(),
        webhook_id=hook_id,
        url=receiver.url,
        secret_sealed=box.seal("whsec_x", f"webhook:{hook_id}"),
        event="return.accepted",
        body=b"{}",
        attempt=1,
    )
    async with receiver.running(), httpx.AsyncClient() as http:
        status, error = await delivery.send(http, box, item, public_only=True)
        assert status is None and error and error.startswith("refused")
        assert receiver.got == []
        status, error = await delivery.send(http, box, item)
        assert (status, error) == (204, None)
        assert len(receiver.got) == 1


async def test_a_secret_sealed_under_a_removed_key_is_a_failed_attempt() -> None:
    old, new = SecretBox([secrets.token_bytes(32)]), SecretBox([secrets.token_bytes(32)])
    hook_id = uuid.uuid4()
    sealed = old.seal("whsec_x", f"webhook:{hook_id}")
    assert old.open(sealed, f"webhook:{hook_id}") == "whsec_x"
    with pytest.raises(SealError):
        old.open(sealed, f"webhook:{uuid.uuid4()}")  # bound to its own webhook
    item = delivery.Claimed(
        uuid.uuid4(), hook_id, "http://127.0.0.1:9/hook", sealed, "return.accepted", b"{}", 1
    )
    async with httpx.AsyncClient() as http:
        status, error = await delivery.send(http, new, item)
    assert status is None and error and "SUBMISSION_WEBHOOK_KEYS" in error
