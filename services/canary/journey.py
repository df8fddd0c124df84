"""One canary run: the journey an API client makes against the sandbox.

token → (connect a test taxpayer) → obligations → submit → status until accepted → view
return → audit evidence holding the HMRC exchange of that submission. Each step is a span
under one `canary run` span; a step that fails names itself in `JourneyFailed`.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import parse_qsl, quote, urlsplit

import httpx
from opentelemetry import trace

from services.canary.settings import CanarySettings
from services.common import jsonutil, telemetry

tracer = telemetry.get_tracer(__name__)
T = TypeVar("T")

ACCEPT_HMRC = {"Accept": "application/vnd.hmrc.1.0+json"}
# The figures of every canary return (a valid nine-box return).
RETURN_FIGURES: dict[str, Any] = {
    "vatDueSales": 100.10,
    "vatDueAcquisitions": 0.00,
    "totalVatDue": 100.10,
    "vatReclaimedCurrPeriod": 40.00,
    "netVatDue": 60.10,
    "totalValueSalesExVAT": 500,
    "totalValuePurchasesExVAT": 200,
    "totalValueGoodsSuppliedExVAT": 0,
    "totalAcquisitionsExVAT": 0,
    "finalised": True,
}


class JourneyFailed(Exception):
    def __init__(self, step: str, detail: str) -> None:
        super().__init__(f"{step}: {detail}")
        self.step = step


def device_headers(now: datetime | None = None) -> dict[str, str]:
    """Fraud prevention data of the canary's (server-side) web application."""
    stamp = quote((now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%MZ"))
    return {
        "Gov-Client-Connection-Method": "WEB_APP_VIA_SERVER",
        "Gov-Client-Device-ID": "0f6c3f4e-4bb4-4c59-9f7c-6b0a2c1c7a11",
        "Gov-Client-User-IDs": "mtd-canary=canary",
        "Gov-Client-Timezone": "UTC+00:00",
        "Gov-Client-Screens": "width=1920&height=1080&scaling-factor=1&colour-depth=24",
        "Gov-Client-Window-Size": "width=1256&height=803",
        "Gov-Client-Browser-JS-User-Agent": "Mozilla%2F5.0%20(X11)",
        "Gov-Client-Multi-Factor": f"type=TOTP&timestamp={stamp}&unique-reference=canary",
        "Gov-Vendor-Version": "mtd-canary=1.0.0",
        "Gov-Vendor-License-IDs": "mtd-canary=CANARY",
        "Forwarded": 'for="81.2.69.160:41234"',
    }


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _ok(step: str, response: httpx.Response, *expected: int) -> httpx.Response:
    if response.status_code not in (expected or (200,)):
        raise JourneyFailed(step, f"HTTP {response.status_code}: {response.text[:300]}")
    return response


@dataclass
class Journey:
    settings: CanarySettings
    http: httpx.AsyncClient
    # Filled in as the run goes; the tests read them.
    facts: dict[str, str] = field(default_factory=dict)
    # Every credential the run handled, so a log scan can look for each (never logged).
    secrets: list[str] = field(default_factory=list)

    async def step(self, name: str, run: Callable[[], Awaitable[T]]) -> T:
        with tracer.start_as_current_span(f"canary {name}") as span:
            span.set_attribute("canary.step", name)
            try:
                return await run()
            except JourneyFailed:
                raise
            except (httpx.HTTPError, ValueError, KeyError) as exc:
                raise JourneyFailed(name, f"{type(exc).__name__}: {exc}") from exc

    async def run(self, client_id: str, client_secret: str) -> dict[str, str]:
        s = self.settings
        token = await self.step("token", lambda: self.token(client_id, client_secret))
        if s.hmrc_sandbox_url:
            vrn = await self.step("connect", lambda: self.connect_test_taxpayer(token))
        elif s.vrn:
            vrn = s.vrn
        else:
            raise JourneyFailed("connect", "set CANARY_HMRC_SANDBOX_URL or CANARY_VRN")
        self.facts["vrn"] = vrn
        if not s.submit:
            await self.step("obligations", lambda: self.obligations(token, vrn, fresh=True))
            await self.step("status", lambda: self.platform_status(token))
            await self.step("audit", lambda: self.audit_evidence(token, vrn))
            return self.facts
        obligation = await self.step("obligations", lambda: self.open_obligation(token, vrn))
        period_key = str(obligation["periodKey"])
        self.facts["period_key"] = period_key
        location = await self.step("submit", lambda: self.submit(token, vrn, period_key))
        submission = await self.step("status", lambda: self.until_accepted(token, location))
        self.facts["submission_id"] = str(submission["id"])
        await self.step("view", lambda: self.view(token, location, period_key))
        await self.step("audit", lambda: self.audit_evidence(token, vrn))
        return self.facts

    # -- steps --------------------------------------------------------------------------------
    async def token(self, client_id: str, client_secret: str) -> str:
        r = await self.http.post(
            f"{self.settings.auth_url}/v1/auth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": client_id,
                "client_secret": client_secret,
            },
        )
        token = str(_ok("token", r).json()["access_token"])
        self.secrets.append(token)
        return token

    async def connect_test_taxpayer(self, token: str) -> str:
        s = self.settings
        sim = str(s.hmrc_sandbox_url).rstrip("/")
        secret = s.hmrc_client_secret.get_secret_value() if s.hmrc_client_secret else ""
        r = await self.http.post(
            f"{sim}/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": s.hmrc_client_id or "",
                "client_secret": secret,
            },
        )
        app_token = str(_ok("connect", r).json()["access_token"])
        self.secrets.append(app_token)
        r = await self.http.post(
            f"{sim}/create-test-user/organisations",
            json={"serviceNames": ["mtd-vat"]},
            headers={**ACCEPT_HMRC, **bearer(app_token)},
        )
        user = _ok("connect", r, 200, 201).json()
        self.secrets.append(str(user["password"]))
        r = await self.http.post(
            f"{s.auth_url}/v1/connections", json={"vrn": user["vrn"]}, headers=bearer(token)
        )
        authorize = _ok("connect", r, 200, 201).json()["authorize_url"]
        # The consent page's form, posted the way the taxpayer's browser would.
        r = await self.http.post(
            f"{sim}/oauth/authorize",
            data={
                **dict(parse_qsl(urlsplit(authorize).query)),
                "user_id": user["userId"],
                "password": user["password"],
                "decision": "grant",
            },
        )
        callback = _ok("connect", r, 302, 303).headers["location"]
        r = await self.http.get(callback, headers={"Accept": "application/json"})
        _ok("connect", r, 200)
        return str(user["vrn"])

    async def obligations(self, token: str, vrn: str, *, fresh: bool) -> list[dict[str, Any]]:
        """Open obligations; `fresh` asks HMRC rather than the platform's cache."""
        r = await self.http.get(
            f"{self.settings.obligations_url}/v1/vat/{vrn}/obligations",
            params={"status": "O"},
            headers={
                **bearer(token),
                **device_headers(),
                **({"Cache-Control": "no-cache"} if fresh else {}),
            },
        )
        return list(_ok("obligations", r).json().get("obligations") or [])

    async def open_obligation(self, token: str, vrn: str) -> dict[str, Any]:
        open_ones = await self.obligations(token, vrn, fresh=False)
        if not open_ones:
            raise JourneyFailed("obligations", f"VRN {vrn} has no open obligation")
        return dict(min(open_ones, key=lambda o: str(o["due"])))

    async def submit(self, token: str, vrn: str, period_key: str) -> str:
        r = await self.http.post(
            f"{self.settings.submission_url}/v1/vat/{vrn}/returns",
            content=jsonutil.dumps({"periodKey": period_key, **RETURN_FIGURES}).encode(),
            headers={
                **bearer(token),
                **device_headers(),
                "Idempotency-Key": f"canary-{uuid.uuid4().hex}",
                "Content-Type": "application/json",
            },
        )
        return str(_ok("submit", r, 202).headers["location"])

    async def until_accepted(self, token: str, location: str) -> dict[str, Any]:
        async def accepted() -> dict[str, Any] | None:
            r = await self.http.get(
                f"{self.settings.submission_url}{location}", headers=bearer(token)
            )
            doc: dict[str, Any] = _ok("status", r).json()
            if doc["status"] == "rejected":
                raise JourneyFailed("status", f"HMRC rejected the return: {doc.get('error')}")
            return doc if doc["status"] == "accepted" else None

        doc = await self._poll("status", accepted)
        await self.platform_status(token)
        return doc

    async def platform_status(self, token: str) -> None:
        """The platform's own status (what a client's degraded-mode banner reads)."""
        url = f"{self.settings.submission_url}/v1/status"
        _ok("status", await self.http.get(url, headers=bearer(token)))

    async def view(self, token: str, location: str, period_key: str) -> None:
        """Read the accepted return back: its period and HMRC's receipt.

        The public API serves it on the return's own URL; once submission serves
        `/v1/vat/{vrn}/returns/by-period/{periodKey}` (HMRC's view return), read that."""
        r = await self.http.get(f"{self.settings.submission_url}{location}", headers=bearer(token))
        body = _ok("view", r).json()
        if str(body.get("periodKey")) != period_key:
            raise JourneyFailed("view", f"the return is for period {body.get('periodKey')!r}")
        if not (body.get("receipt") or {}).get("formBundleNumber"):
            raise JourneyFailed("view", "the accepted return has no HMRC receipt")

    async def audit_evidence(self, token: str, vrn: str) -> None:
        """The audit log holds this run's HMRC exchange: the submission's POST, or (without
        a submission) an exchange made in this run's trace."""
        today = datetime.now(UTC).date()
        submission_id = self.facts.get("submission_id")
        trace_id = format(trace.get_current_span().get_span_context().trace_id, "032x")

        def ours(line: dict[str, Any]) -> bool:
            if submission_id:
                return line.get("method") == "POST" and line.get("submission_id") == submission_id
            return line.get("trace_id") == trace_id

        async def recorded() -> bool | None:
            r = await self.http.get(
                f"{self.settings.audit_url}/v1/audit/evidence",
                params={
                    "vrn": vrn,
                    "from": (today - timedelta(days=1)).isoformat(),
                    "to": today.isoformat(),
                },
                headers=bearer(token),
            )
            lines = [jsonutil.loads(line) for line in _ok("audit", r).text.splitlines() if line]
            found = any(line.get("type") == "exchange" and ours(line) for line in lines)
            return True if found else None

        await self._poll("audit", recorded)

    async def _poll(self, step: str, check: Callable[[], Awaitable[T | None]]) -> T:
        deadline = time.monotonic() + self.settings.accept_timeout
        delay = 0.2
        while True:
            result = await check()
            if result is not None:
                return result
            if time.monotonic() > deadline:
                raise JourneyFailed(step, f"not done after {self.settings.accept_timeout:g}s")
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 2.0)
