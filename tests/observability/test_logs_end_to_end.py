"""The logs of the whole end-to-end run (every service's file in the stack's directory, and
the canary's): no credential the run used appears in them, every line is a JSON object,
and a line written within a request or span carries the ids that correlate it."""

from __future__ import annotations

import json
from typing import Any

import jwt
import pytest

from tests.observability.conftest import CanaryLoop, EndToEnd
from tests.observability.test_canary import scrape_until_success

# Shorter strings (a six-digit code) could match by chance; every credential is longer.
MIN_SECRET_LENGTH = 8


@pytest.fixture(scope="module")
def logs(end_to_end: EndToEnd, canary_loop: CanaryLoop) -> dict[str, list[str]]:
    scrape_until_success(canary_loop.metrics_url)
    files = end_to_end.stack.log_files()
    assert {f.stem for f in files} >= {
        "auth",
        "audit",
        "hmrc_gateway",
        "hmrc_sandbox",
        "obligations",
        "submission",
        "canary-loop",
    }
    return {f.stem: f.read_text(errors="replace").splitlines() for f in files}


def known_secrets(e2e: EndToEnd) -> list[str]:
    found = e2e.stack.local_secrets() + e2e.run.secrets + e2e.auth_secrets
    return sorted({s for s in found if len(s) >= MIN_SECRET_LENGTH})


def test_no_credential_of_the_run_is_logged(
    end_to_end: EndToEnd, logs: dict[str, list[str]]
) -> None:
    secrets = known_secrets(end_to_end)
    # Client secrets, bootstrap and service secrets, the audit key, access tokens (of the
    # platform and of HMRC's simulator), a password, a TOTP seed and recovery codes.
    assert len(secrets) >= 12, len(secrets)
    for name, lines in logs.items():
        text = "\n".join(lines)
        leaked = [s[:6] + "…" for s in secrets if s in text]
        assert not leaked, f"{name}.log holds credentials starting {leaked}"


def parsed(name: str, lines: list[str]) -> list[dict[str, Any]]:
    out = []
    for n, line in enumerate(lines, 1):
        try:
            event = json.loads(line)
        except ValueError:
            pytest.fail(f"{name}.log:{n} is not JSON: {line[:200]}")
        assert isinstance(event, dict), f"{name}.log:{n}"
        out.append(event)
    return out


def test_every_line_is_json_with_correlation_ids(logs: dict[str, list[str]]) -> None:
    in_request = 0
    for name, lines in logs.items():
        for event in parsed(name, lines):
            assert {"event", "level", "timestamp", "service"} <= set(event), (name, event)
            assert event["timestamp"].endswith("Z") or "+00:00" in event["timestamp"]
            if "request_id" in event:
                in_request += 1
                assert "trace_id" in event and "span_id" in event, (name, event)
            if "trace_id" in event:
                assert len(event["trace_id"]) == 32 and len(event["span_id"]) == 16
    assert in_request > 0, "no line was written within a request"


def test_lines_of_an_authenticated_request_name_the_tenant(
    end_to_end: EndToEnd, logs: dict[str, list[str]]
) -> None:
    tenant = jwt.decode(end_to_end.run.access_token, options={"verify_signature": False})["tid"]
    mine = [
        e
        for name, lines in logs.items()
        if name != "canary-loop"
        for e in parsed(name, lines)
        if e.get("trace_id") == end_to_end.run.trace_id and "request_id" in e
    ]
    with_tenant = [e for e in mine if "tenant" in e]
    assert with_tenant, "no line of the client's requests names a tenant"
    assert {e["tenant"] for e in with_tenant} <= {tenant, "platform"}, with_tenant[:3]


def test_the_run_can_be_followed_in_the_logs_by_trace_id(
    end_to_end: EndToEnd, logs: dict[str, list[str]]
) -> None:
    traced = {
        name
        for name, lines in logs.items()
        for event in parsed(name, lines)
        if event.get("trace_id")
    }
    assert "canary-loop" in traced
    assert traced & {"auth", "submission", "hmrc_gateway", "audit", "obligations"}


def test_the_canarys_lines_are_marked_synthetic_and_the_clients_are_not(
    end_to_end: EndToEnd, logs: dict[str, list[str]]
) -> None:
    in_runs = [e for e in parsed("canary", logs["canary-loop"]) if e.get("trace_id")]
    assert in_runs and all(e.get("synthetic") is True for e in in_runs)
    client_lines = [
        e
        for name, lines in logs.items()
        for e in parsed(name, lines)
        if e.get("trace_id") == end_to_end.run.trace_id
    ]
    assert not any(e.get("synthetic") for e in client_lines)
