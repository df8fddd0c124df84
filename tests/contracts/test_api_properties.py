"""Property-based testing of every public service from its checked-in OpenAPI document
(schemathesis): for generated requests, valid and invalid, no response is a 5xx and every
response conforms to the contract (status code, content type, headers, body schema).

The services are real: served in-process over HTTP on real PostgreSQL and NATS, the gateway
in front of the HMRC simulator, called with valid access tokens for a tenant with a
connected VRN. `CONTRACT_EXAMPLES` sets the cases per operation and generation mode (the
default keeps CI quick); the full pass is

    CONTRACT_EXAMPLES=300 .venv/bin/python -m pytest tests/contracts/test_api_properties.py
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from schemathesis import APIOperation, Case

from contracts.apps import SERVICES
from contracts.openapi_docs import checked_in, path_of
from tests.auth.conftest import bearer
from tests.auth.simulator import hmrc_token
from tests.contracts.conftest import Stack
from tests.contracts.fuzzing import EXAMPLES, exercise
from tests.hmrc_gateway import devices

HMRC_ACCEPT = "application/vnd.hmrc.1.0+json"
# Raised inside schemathesis's own strategies; nothing this suite can change.
pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")


def _operations() -> list[tuple[str, str, str]]:
    found = []
    for service in SERVICES:
        schema = schemathesis.openapi.from_path(str(path_of(service)))
        for result in schema.get_all_operations():
            op = result.ok()  # type: ignore[union-attr]  # an Err would be a broken contract
            found.append((service, op.method.upper(), op.path))
    # The simulator's control API last: faults and resets must not disturb other operations.
    return sorted(found, key=lambda o: (o[0] == "hmrc_sandbox", o[2].startswith("/control"), o))


OPERATIONS = _operations()


@dataclass
class Credentials:
    overrides: dict[str, Any]
    tokens: dict[str, str]  # kind -> access token

    def headers_for(self, service: str, path: str) -> Callable[[Case[Any]], dict[str, str]]:
        if service == "hmrc_sandbox":
            token = self.tokens["hmrc_user" if path.startswith("/organisations") else "hmrc_app"]
            fixed = {**bearer(token), "Accept": HMRC_ACCEPT}
        elif service == "hmrc_gateway" or path.startswith("/internal"):
            fixed = {**bearer(self.tokens["service"]), **devices.web_headers()}
        elif service == "auth" and path.startswith(("/v1/tenants", "/v1/auth/jwks")):
            fixed = bearer(self.tokens["admin"])
        else:
            fixed = {**bearer(self.tokens["tenant_admin"]), **devices.web_headers()}

        def headers(case: Case[Any]) -> dict[str, str]:
            # Generated header parameters win over the fixed ones.
            given = {k.lower() for k in (case.headers or {})}
            return {k: v for k, v in fixed.items() if k.lower() not in given}

        return headers


@pytest.fixture(scope="module")
async def credentials(stack: Stack) -> Credentials:
    tenant = await stack.tenant(vrns=1, roles=("tenant_admin",))
    vrn = tenant.vrns[0]
    r = await hmrc_token(stack.auth, tenant.id, vrn)
    assert r.status_code == 200, r.text
    return Credentials(
        overrides={"vrn": vrn, "tenant_id": tenant.id},
        tokens={
            "tenant_admin": tenant.tokens["tenant_admin"],
            "admin": await stack.auth.admin_token(),
            "service": await stack.service_token("submission"),
            "hmrc_user": r.json()["access_token"],
            "hmrc_app": await stack.sim.app_token(),
        },
    )


@pytest.mark.timeout(900)
@pytest.mark.parametrize(
    ("service", "method", "path"), OPERATIONS, ids=[f"{s}:{m} {p}" for s, m, p in OPERATIONS]
)
async def test_operation_keeps_its_contract(
    stack: Stack, credentials: Credentials, service: str, method: str, path: str
) -> None:
    schema = schemathesis.openapi.from_path(str(path_of(service)))
    operation: APIOperation[Any, Any, Any, Any] = schema[path][method]
    found = await asyncio.to_thread(
        exercise,
        operation,
        stack.urls[service],
        credentials.headers_for(service, path),
        credentials.overrides,
    )
    # Hypothesis stops early only when an operation has no more distinct inputs to give.
    spec = checked_in(service)["paths"][path][method.lower()]
    assert found.cases >= (EXAMPLES if spec.get("parameters") or spec.get("requestBody") else 1)
    assert not found.failures, f"{service} {method} {path}:\n" + "\n".join(found.failures.values())
