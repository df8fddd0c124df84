"""The end-to-end run the observability tests share: the local stack as real processes,
exporting spans to the test's collector, and one API client's day on it.

The client sends one `traceparent` (a client span of its own) on every request, so the
whole run — sign-in, HMRC connection, obligations, the submission and everything the
services do for it afterwards — is one trace. Around it, the run also does what moves the
auth metrics: a user signs up and enrols TOTP, wrong secrets of every kind are tried, and
one HMRC consent is denied.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import jwt
import pyotp
from opentelemetry.instrumentation.utils import suppress_instrumentation

from services.canary.journey import Journey, bearer
from services.canary.provision import api_client
from services.canary.settings import STACK_ENV_KEYS, CanarySettings

STACK_TIMEOUT = 240


def stack_cli(root: Path, extra_env: dict[str, str], *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "NATS_URL")}
    env.update(extra_env, MTD_LOCAL_DIR=str(root))
    result = subprocess.run(
        [sys.executable, "-m", "services.stack", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=STACK_TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def read_env(root: Path) -> dict[str, str]:
    lines = (root / "stack.env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line)


def canary_settings(env: dict[str, str], **extra: Any) -> CanarySettings:
    values: dict[str, Any] = {field: env[key] for key, field in STACK_ENV_KEYS.items()}
    return CanarySettings(**values, accept_timeout=90, **extra)


@dataclass
class Run:
    trace_id: str
    client_span_id: str
    vrn: str = ""
    period_key: str = ""
    submission_id: str = ""
    client_id: str = ""
    client_secret: str = ""
    access_token: str = ""
    secrets: list[str] = field(default_factory=list)


def new_traceparent() -> tuple[str, str, str]:
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    return f"00-{trace_id}-{span_id}-01", trace_id, span_id


async def one_submission(env: dict[str, str]) -> Run:
    """Sign in, connect a test taxpayer, submit one return and follow it to the audit log."""
    traceparent, trace_id, span_id = new_traceparent()
    run = Run(trace_id, span_id)
    # This process may have traced httpx globally (other tests set tracing up): that would
    # replace our traceparent with one of its own, so the run's requests go untouched.
    with suppress_instrumentation():
        return await _one_submission(env, traceparent, run)


async def _one_submission(env: dict[str, str], traceparent: str, run: Run) -> Run:
    async with httpx.AsyncClient(timeout=60, headers={"traceparent": traceparent}) as http:
        journey = Journey(canary_settings(env), http)
        client_id, client_secret = await api_client(journey.settings, http, journey.secrets)
        run.client_id, run.client_secret = client_id, client_secret
        token = run.access_token = await journey.token(client_id, client_secret)
        run.vrn = await journey.connect_test_taxpayer(token)
        obligation = await journey.open_obligation(token, run.vrn)
        run.period_key = str(obligation["periodKey"])
        location = await journey.submit(token, run.vrn, run.period_key)
        accepted = await journey.until_accepted(token, location)
        run.submission_id = journey.facts["submission_id"] = str(accepted["id"])
        await journey.view(token, location, run.period_key)
        await journey.audit_evidence(token, run.vrn)
        run.secrets += journey.secrets
    return run


async def auth_day(env: dict[str, str]) -> list[str]:
    """A user signs up with TOTP, and every kind of wrong secret is tried once; returns the
    secrets handled (passwords, TOTP seed, tokens, recovery codes)."""
    auth, sim = env["AUTH_URL"], env["HMRC_SANDBOX_URL"]
    seen: list[str] = []
    async with httpx.AsyncClient(base_url=auth, timeout=30) as http:
        admin = await _token(http, env["BOOTSTRAP_CLIENT_ID"], env["BOOTSTRAP_CLIENT_SECRET"])
        seen.append(admin)
        r = await http.post(
            "/v1/tenants", json={"name": f"obs-{uuid.uuid4().hex[:8]}"}, headers=bearer(admin)
        )
        tenant = r.json()["id"]
        password = f"Obs-{secrets.token_urlsafe(12)}"
        email = f"sre-{uuid.uuid4().hex[:8]}@example.com"
        seen.append(password)
        r = await http.post(
            f"/v1/tenants/{tenant}/users",
            json={"email": email, "name": "SRE", "roles": ["tenant_admin"], "password": password},
            headers=bearer(admin),
        )
        assert r.status_code == 201, r.text
        # Wrong password, then the right one and TOTP enrolment.
        r = await http.post("/v1/auth/login", json={"email": email, "password": password + "x"})
        assert r.status_code == 401, r.text
        r = await http.post("/v1/auth/login", json={"email": email, "password": password})
        enrol_token = r.json()["access_token"]
        seen.append(enrol_token)
        r = await http.post("/v1/auth/mfa/totp", headers=bearer(enrol_token))
        seed = r.json()["secret"]
        seen.append(seed)
        r = await http.post(
            "/v1/auth/mfa/totp/verify",
            json={"code": pyotp.TOTP(seed).now()},
            headers=bearer(enrol_token),
        )
        assert r.status_code == 200, r.text
        recovery = [str(c) for c in r.json()["recovery_codes"]]
        seen += recovery
        # A wrong TOTP code, then a recovery code signs in.
        r = await http.post("/v1/auth/login", json={"email": email, "password": password})
        mfa_token = r.json()["mfa_token"]
        seen.append(mfa_token)
        wrong = "000000" if pyotp.TOTP(seed).now() != "000000" else "111111"
        r = await http.post("/v1/auth/login/mfa", json={"mfa_token": mfa_token, "code": wrong})
        assert r.status_code == 401, r.text
        r = await http.post(
            "/v1/auth/login/mfa", json={"mfa_token": mfa_token, "recovery_code": recovery[0]}
        )
        assert r.status_code == 200, r.text
        user_token = r.json()["access_token"]
        seen.append(user_token)
        # A wrong client secret, a forged bearer token, a callback nobody started.
        bad = await http.post(
            "/v1/auth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": env["BOOTSTRAP_CLIENT_ID"],
                "client_secret": "not-the-secret",
            },
        )
        assert bad.status_code == 401, bad.text
        r = await http.get("/v1/auth/me", headers=bearer("eyJhbGciOiJFUzI1NiJ9.e30.c2ln"))
        assert r.status_code == 401, r.text
        r = await http.get(
            "/v1/connections/callback",
            params={"state": secrets.token_urlsafe(16), "code": "x"},
            headers={"Accept": "application/json"},
        )
        assert r.status_code == 400, r.text
        # A taxpayer who declines consent on HMRC's page.
        r = await http.post(
            "/v1/connections", json={"vrn": "123456789"}, headers=bearer(user_token)
        )
        assert r.status_code == 201, r.text
        params = dict(parse_qsl(urlsplit(r.json()["authorize_url"]).query))
        r = await http.post(f"{sim}/oauth/authorize", data={**params, "decision": "deny"})
        assert r.status_code in (302, 303), r.text
        r = await http.get(r.headers["location"], headers={"Accept": "application/json"})
        assert r.status_code == 400, r.text
    return seen


async def _token(http: httpx.AsyncClient, client_id: str, secret: str) -> str:
    r = await http.post(
        "/v1/auth/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


async def hmrc_access_token(env: dict[str, str], gateway_secret: str, run: Run) -> str:
    """The HMRC access token the gateway sends for the run's VRN (asked the way the gateway
    asks auth for it), so the log scan can look for it too."""
    tenant_id = jwt.decode(run.access_token, options={"verify_signature": False})["tid"]
    async with httpx.AsyncClient(base_url=env["AUTH_URL"], timeout=30) as http:
        token = await _token(http, "hmrc_gateway", gateway_secret)
        r = await http.post(
            "/internal/v1/hmrc/access-token",
            json={"tenant_id": tenant_id, "vrn": run.vrn},
            headers=bearer(token),
        )
        assert r.status_code == 200, r.text
        return str(r.json()["access_token"])
