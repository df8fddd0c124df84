"""The gateway with nothing standing in: a VRN connected through auth's real OAuth flow
with the simulator, HMRC tokens and fraud facts fetched from auth, and HMRC's own
fraud-header validator asked through the gateway."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from services.hmrc_gateway.app import create_app
from tests.auth.conftest import GATEWAY_ID, ServeAuth, bearer, serve_auth

__all__ = ["serve_auth"]  # the auth suite's fixture, used here too
from tests.auth.simulator import auth_with_simulator, connect
from tests.conftest import fresh_database
from tests.hmrc_gateway import devices
from tests.hmrc_gateway.conftest import gateway_settings
from tests.serving import serve


@asynccontextmanager
async def gateway_of(
    auth: Any, sim: Any, db_url: str, nats_url: str, **settings: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """A gateway signed in to this auth service as its own client, and a client calling it."""
    values = gateway_settings(
        db_url,
        nats_url,
        sim.url,
        auth.url,
        client_id=GATEWAY_ID,
        client_secret=auth.settings.service_client_secrets()[GATEWAY_ID],
        **settings,
    )
    async with (
        serve(create_app(values)) as url,
        httpx.AsyncClient(
            base_url=url, headers=bearer(await auth.gateway_token()), timeout=30
        ) as gateway,
    ):
        yield gateway


async def test_a_vrn_connected_in_auth_is_served_end_to_end(
    serve_auth: ServeAuth, pg_url: str, nats_url: str, tmp_path: Path
) -> None:
    async with auth_with_simulator(serve_auth, pg_url, nats_url, tmp_path) as (auth, sim):
        connected = await connect(auth, sim)
        db_url = await fresh_database(pg_url, "hmrc_gateway")
        async with gateway_of(auth, sim, db_url, nats_url, fraud_header_feedback=True) as gateway:
            me = await auth.http.get("/v1/auth/me", headers=bearer(connected.user_token))
            assert me.status_code == 200, me.text
            user_id = me.json()["subject"]
            body = {
                "tenant_id": connected.tenant,
                "user_id": user_id,
                "return": {
                    "periodKey": "E001",
                    "vatDueSales": "10.00",
                    "vatDueAcquisitions": "0.00",
                    "totalVatDue": "10.00",
                    "vatReclaimedCurrPeriod": "0.00",
                    "netVatDue": "10.00",
                    "totalValueSalesExVAT": "50",
                    "totalValuePurchasesExVAT": "0",
                    "totalValueGoodsSuppliedExVAT": "0",
                    "totalAcquisitionsExVAT": "0",
                    "finalised": True,
                },
                "device": devices.device("WEB_APP_VIA_SERVER"),
                "connection": devices.connection(),
            }
            r = await gateway.post(f"/internal/v1/vat/{connected.vrn}/returns", json=body)
            assert r.status_code == 201, r.text
            assert r.json()["receipt"]["formBundleNumber"]

            # The user's MFA and hashed user id came from auth into the headers, and HMRC's
            # validator (the simulator's, asked through the gateway) finds nothing wrong.
            r = await gateway.post(
                "/internal/v1/fraud-headers/validate",
                json={
                    "tenant_id": connected.tenant,
                    "vrn": connected.vrn,
                    "user_id": user_id,
                    "device": devices.device("WEB_APP_VIA_SERVER"),
                    "connection": devices.connection(),
                    "ask_hmrc": True,
                },
            )
            assert r.status_code == 200, r.text
            answer = r.json()
            assert answer["hmrc"]["code"] == "VALID_HEADERS", answer["hmrc"]
            assert answer["validation"]["result"] == "valid"
            assert "Gov-Client-Multi-Factor" in answer["headers"]

            # A VRN the tenant never connected: a clear answer naming the next step.
            other = str(uuid.uuid4())
            r = await gateway.post(
                f"/internal/v1/vat/{connected.vrn}/returns", json={**body, "tenant_id": other}
            )
            assert r.status_code == 409, r.text
            assert r.json()["code"] == "HMRC_REAUTHORISATION_REQUIRED"


def _token_requests(metrics_text: str) -> float:
    total = 0.0
    for line in metrics_text.splitlines():
        if line.startswith("http_server_requests_total{") and (
            'route="/internal/v1/hmrc/access-token"' in line
        ):
            total += float(line.rsplit(" ", 1)[1])
    return total


async def test_hmrc_tokens_are_reused_briefly_and_not_at_all_when_disabled(
    serve_auth: ServeAuth, pg_url: str, nats_url: str, tmp_path: Path
) -> None:
    async with auth_with_simulator(serve_auth, pg_url, nats_url, tmp_path) as (auth, sim):
        connected = await connect(auth, sim)
        db_url = await fresh_database(pg_url, "hmrc_gateway")

        async def token_requests_for_three_reads(ttl: float) -> float:
            async with gateway_of(
                auth, sim, db_url, nats_url, hmrc_token_ttl_seconds=ttl
            ) as gateway:
                before = _token_requests((await auth.http.get("/metrics")).text)
                for _ in range(3):
                    r = await gateway.get(
                        f"/internal/v1/vat/{connected.vrn}/obligations",
                        params={"tenant_id": connected.tenant, "status": "O"},
                        headers=devices.web_headers(),
                    )
                    assert r.status_code == 200, r.text
                return _token_requests((await auth.http.get("/metrics")).text) - before

        # Reused within the lifetime: auth is asked once for three HMRC calls.
        assert await token_requests_for_three_reads(30.0) == 1
        # Lifetime 0 (a deployment that wants disconnects to bite at once): every call asks.
        assert await token_requests_for_three_reads(0.0) == 3
