"""What every part of a scenario run shares: the stack's URLs, the scenario's variables and
tokens, the responses recorded so far, and the normaliser that learns the run's ids."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from golden.normalise import Normaliser
from golden.stack import Running

SERVICES = {
    "auth": "AUTH_URL",
    "obligations": "OBLIGATIONS_URL",
    "submission": "SUBMISSION_URL",
    "audit": "AUDIT_URL",
    "hmrc_gateway": "HMRC_GATEWAY_URL",
    "simulator": "HMRC_SANDBOX_URL",
}


@dataclass
class Context:
    stack: Running
    http: httpx.Client
    variables: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    responses: list[dict[str, Any]] = field(default_factory=list)
    norm: Normaliser = field(default_factory=Normaliser)

    def url(self, service: str) -> str:
        return self.stack.env[SERVICES[service]]

    def save(self, name: str, value: object, learn: bool = False) -> None:
        """Keep a value for later steps; `learn` also hides it in the outputs (ids that
        differ per run; deterministic values such as period keys stay visible)."""
        self.variables[name] = str(value)
        if learn:
            self.norm.learn(str(value), f"<{name}>")


class StepFailed(Exception):
    pass


def simulator(ctx: Context, method: str, path: str, body: Any = None) -> Any:
    r = ctx.http.request(method, ctx.url("simulator") + path, json=body)
    if r.status_code >= 300:
        raise StepFailed(f"simulator control {method} {path}: {r.status_code} {r.text[:300]}")
    return r.json()


def token(ctx: Context, client_id: str, secret: str) -> str:
    r = ctx.http.post(
        ctx.url("auth") + "/v1/auth/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )
    if r.status_code != 200:
        raise StepFailed(f"sign-in of {client_id}: {r.status_code} {r.text[:300]}")
    return str(r.json()["access_token"])


def ok(r: httpx.Response, what: str) -> Any:
    if r.status_code >= 300:
        raise StepFailed(f"{what}: {r.status_code} {r.text[:300]}")
    return r.json()
