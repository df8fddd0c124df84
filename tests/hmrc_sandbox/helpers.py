"""A small HMRC client for the tests: tokens, test users and the consent form over HTTP."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from pydantic import SecretStr

from services.hmrc_sandbox.app import create_app
from services.hmrc_sandbox.settings import HmrcSandboxSettings
from tests.serving import serve

ACCEPT = "application/vnd.hmrc.1.0+json"
PLATFORM_CLIENT_ID = "platform-app"
PLATFORM_CLIENT_SECRET = "platform-app-secret-for-tests"
REDIRECT_URI = "http://127.0.0.1:9/callback"


@dataclass
class User:
    user_id: str
    password: str
    vrn: str
    answer: dict[str, Any]
    access_token: str = ""
    refresh_token: str = ""


@dataclass
class Simulator:
    url: str
    http: httpx.AsyncClient
    settings: HmrcSandboxSettings
    app: Any
    client_id: str = ""
    client_secret: str = ""
    app_token: str = ""
    extras: dict[str, Any] = field(default_factory=dict)

    # -- control ------------------------------------------------------------------------------
    async def control(self, method: str, path: str, json: Any = None) -> Any:
        response = await self.http.request(method, f"{self.url}/control{path}", json=json)
        assert response.status_code < 300, response.text
        return response.json()

    async def counters(self) -> dict[str, Any]:
        result: dict[str, Any] = await self.control("GET", "/counters")
        return result

    async def new_application(self, rate: float | None = 1000.0, **extra: Any) -> tuple[str, str]:
        body = {"name": "tests", "requests_per_second": rate, **extra}
        created = await self.control("POST", "/applications", body)
        return created["client_id"], created["client_secret"]

    # -- OAuth ----------------------------------------------------------------------------------
    async def token(self, **form: str) -> httpx.Response:
        return await self.http.post(f"{self.url}/oauth/token", data=form)

    async def client_credentials(
        self, client_id: str | None = None, client_secret: str | None = None, scope: str = ""
    ) -> str:
        form = {
            "grant_type": "client_credentials",
            "client_id": client_id or self.client_id,
            "client_secret": client_secret or self.client_secret,
        }
        if scope:
            form["scope"] = scope
        response = await self.token(**form)
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    async def create_user(self, services: list[str] | None = None, token: str = "") -> User:
        response = await self.http.post(
            f"{self.url}/create-test-user/organisations",
            json={"serviceNames": services if services is not None else ["mtd-vat"]},
            headers={"Accept": ACCEPT, "Authorization": f"Bearer {token or self.app_token}"},
        )
        assert response.status_code == 201, response.text
        answer = response.json()
        return User(answer["userId"], answer["password"], answer.get("vrn", ""), answer)

    async def authorize(
        self,
        user: User,
        scope: str = "read:vat write:vat",
        *,
        decision: str = "grant",
        state: str = "st-1",
        challenge: str | None = None,
        client_id: str | None = None,
        redirect_uri: str = REDIRECT_URI,
    ) -> httpx.Response:
        """Post the consent form as a script would: hidden fields plus the user's answer."""
        form = {
            "response_type": "code",
            "client_id": client_id or self.client_id,
            "scope": scope,
            "state": state,
            "redirect_uri": redirect_uri,
            "user_id": user.user_id,
            "password": user.password,
            "decision": decision,
        }
        if challenge is not None:
            form["code_challenge"] = challenge
            form["code_challenge_method"] = "S256"
        return await self.http.post(f"{self.url}/oauth/authorize", data=form)

    async def user_token(self, user: User, scope: str = "read:vat write:vat") -> User:
        verifier = secrets.token_urlsafe(48)
        response = await self.authorize(user, scope, challenge=pkce_challenge(verifier))
        assert response.status_code == 303, response.text
        code = redirect_params(response)["code"]
        answer = await self.token(
            grant_type="authorization_code",
            client_id=self.client_id,
            client_secret=self.client_secret,
            redirect_uri=REDIRECT_URI,
            code=code,
            code_verifier=verifier,
        )
        assert answer.status_code == 200, answer.text
        user.access_token = answer.json()["access_token"]
        user.refresh_token = answer.json()["refresh_token"]
        return user

    async def connected_user(self, scope: str = "read:vat write:vat") -> User:
        return await self.user_token(await self.create_user(), scope)

    # -- VAT API --------------------------------------------------------------------------------
    async def vat(
        self,
        method: str,
        path: str,
        token: str | None,
        *,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        sent = {"Accept": ACCEPT}
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        sent.update(headers or {})
        return await self.http.request(
            method, f"{self.url}/organisations/vat{path}", headers=sent, **kwargs
        )


def pkce_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def redirect_params(response: httpx.Response) -> dict[str, str]:
    location = response.headers["location"]
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def settings_for(database_url: str, **overrides: Any) -> HmrcSandboxSettings:
    values: dict[str, Any] = {
        "database_url": SecretStr(database_url),
        "environment": "test",
        "client_id": PLATFORM_CLIENT_ID,
        "client_secret": SecretStr(PLATFORM_CLIENT_SECRET),
        "control_enabled": True,
        "log_level": "WARNING",
        **overrides,
    }
    return HmrcSandboxSettings(**values)


@asynccontextmanager
async def start_simulator(database_url: str, **overrides: Any) -> AsyncIterator[Simulator]:
    settings = settings_for(database_url, **overrides)
    app = create_app(settings)
    async with serve(app) as url, httpx.AsyncClient(timeout=30) as http:
        sim = Simulator(url, http, settings, app)
        # The tests' own application, with room to spare under its rate limit.
        sim.client_id, sim.client_secret = await sim.new_application(rate=100_000)
        sim.app_token = await sim.client_credentials()
        yield sim


def valid_return(period_key: str, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "periodKey": period_key,
        "vatDueSales": 105.5,
        "vatDueAcquisitions": -100.45,
        "totalVatDue": 5.05,
        "vatReclaimedCurrPeriod": 105.15,
        "netVatDue": 100.1,
        "totalValueSalesExVAT": 300,
        "totalValuePurchasesExVAT": 300,
        "totalValueGoodsSuppliedExVAT": 3000,
        "totalAcquisitionsExVAT": 3000,
        "finalised": True,
    }
    body.update(changes)
    return body
