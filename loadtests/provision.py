"""Tenants, API clients and connected VRNs on a running local stack, made the way a script
would: simulator test users, auth's connection flow, the consent form posted directly
(docs/DESIGN.md, "The local stack's contract"). Shared by the load test and the bench."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

import httpx

ACCEPT = {"Accept": "application/vnd.hmrc.1.0+json"}
T = TypeVar("T")


def local_dir() -> Path:
    return Path(os.environ.get("MTD_LOCAL_DIR", ".local"))


def stack_env(root: Path | None = None) -> dict[str, str]:
    """The stack's contract file, `stack.env`, as a dict."""
    path = (root or local_dir()) / "stack.env"
    lines = path.read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def client_token(http: httpx.AsyncClient, url: str, cid: str, secret: str) -> str:
    r = await http.post(
        f"{url}/v1/auth/token",
        data={"grant_type": "client_credentials", "client_id": cid, "client_secret": secret},
    )
    r.raise_for_status()
    return str(r.json()["access_token"])


async def hmrc_app_token(http: httpx.AsyncClient, sim: str, cid: str, secret: str) -> str:
    r = await http.post(
        f"{sim}/oauth/token",
        data={"grant_type": "client_credentials", "client_id": cid, "client_secret": secret},
    )
    r.raise_for_status()
    return str(r.json()["access_token"])


async def bounded(limit: int, jobs: Iterable[Callable[[], Awaitable[T]]]) -> list[T]:
    """Run the jobs with at most `limit` in flight; results in the jobs' order."""
    gate = asyncio.Semaphore(limit)

    async def one(job: Callable[[], Awaitable[T]]) -> T:
        async with gate:
            return await job()

    return list(await asyncio.gather(*(one(job) for job in jobs)))


@dataclass
class Tenant:
    id: str
    client_id: str
    client_secret: str
    token: str
    vrns: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Obligation:
    vrn: str
    period_key: str
    due: date


class Provisioner:
    """Builds tenants and connected VRNs. Test users are created with an application of
    their own at the simulator, so setup spends none of the platform's rate budget."""

    def __init__(self, http: httpx.AsyncClient, env: dict[str, str]) -> None:
        self.http = http
        self.env = env
        self.auth = env["AUTH_URL"]
        self.sim = env["HMRC_SANDBOX_URL"]
        self._admin: str | None = None
        self._setup_app: str | None = None

    async def admin(self) -> str:
        if self._admin is None:
            self._admin = await client_token(
                self.http,
                self.auth,
                self.env["BOOTSTRAP_CLIENT_ID"],
                self.env["BOOTSTRAP_CLIENT_SECRET"],
            )
        return self._admin

    async def control(self, method: str, path: str, body: Any = None) -> Any:
        r = await self.http.request(method, f"{self.sim}/control{path}", json=body)
        r.raise_for_status()
        return r.json()

    async def new_application(
        self, name: str, rate: float, redirect_uris: list[str] | None = None
    ) -> tuple[str, str]:
        created = await self.control(
            "POST",
            "/applications",
            {"name": name, "requests_per_second": rate, "redirect_uris": redirect_uris or []},
        )
        return str(created["client_id"]), str(created["client_secret"])

    async def setup_app_token(self) -> str:
        if self._setup_app is None:
            cid, secret = await self.new_application("load test setup", 10_000)
            self._setup_app = await hmrc_app_token(self.http, self.sim, cid, secret)
        return self._setup_app

    async def tenant(self, name: str, roles: list[str] | None = None) -> Tenant:
        admin = await self.admin()
        r = await self.http.post(
            f"{self.auth}/v1/tenants",
            json={"name": f"{name}-{uuid.uuid4().hex[:6]}"},
            headers=bearer(admin),
        )
        r.raise_for_status()
        tenant_id = str(r.json()["id"])
        r = await self.http.post(
            f"{self.auth}/v1/tenants/{tenant_id}/clients",
            json={"name": name, "roles": roles or ["submitter"]},
            headers=bearer(admin),
        )
        r.raise_for_status()
        cid, secret = str(r.json()["client_id"]), str(r.json()["client_secret"])
        token = await client_token(self.http, self.auth, cid, secret)
        return Tenant(tenant_id, cid, secret, token)

    async def test_user(self) -> dict[str, Any]:
        r = await self.http.post(
            f"{self.sim}/create-test-user/organisations",
            json={"serviceNames": ["mtd-vat"]},
            headers={**ACCEPT, **bearer(await self.setup_app_token())},
        )
        r.raise_for_status()
        user: dict[str, Any] = r.json()
        return user

    async def set_calendar(self, vrn: str, stagger: str, start: date) -> None:
        body = {"stagger": stagger, "calendar_start": start.isoformat()}
        await self.control("PUT", f"/vrns/{vrn}/calendar", body)

    async def consent(self, authorize_url: str, user: dict[str, Any]) -> str:
        """Post the simulator's consent form as the user; the redirect HMRC would send."""
        params = dict(parse_qsl(urlsplit(authorize_url).query))
        r = await self.http.post(
            f"{self.sim}/oauth/authorize",
            data={
                **params,
                "user_id": user["userId"],
                "password": user["password"],
                "decision": "grant",
            },
        )
        return str(r.headers["location"])

    async def connect(self, tenant: Tenant, user: dict[str, Any]) -> str:
        """Connect the test user's VRN to the tenant through auth's OAuth flow."""
        r = await self.http.post(
            f"{self.auth}/v1/connections", json={"vrn": user["vrn"]}, headers=bearer(tenant.token)
        )
        r.raise_for_status()
        location = await self.consent(str(r.json()["authorize_url"]), user)
        r = await self.http.get(location, headers={"Accept": "application/json"})
        r.raise_for_status()
        vrn = str(user["vrn"])
        tenant.vrns.append(vrn)
        return vrn

    async def connect_vrn(self, tenant: Tenant) -> str:
        return await self.connect(tenant, await self.test_user())

    async def open_obligations(
        self, tenant: Tenant, vrn: str, device: dict[str, str]
    ) -> list[Obligation]:
        """Read the open obligations through the platform, which also fills its cache."""
        r = await self.http.get(
            f"{self.env['OBLIGATIONS_URL']}/v1/vat/{vrn}/obligations",
            params={"status": "O"},
            headers={**bearer(tenant.token), **device},
        )
        r.raise_for_status()
        return [
            Obligation(vrn, str(o["periodKey"]), date.fromisoformat(o["due"]))
            for o in r.json()["obligations"]
        ]
