"""Reading the log: tenant scope and roles, filters, cursor pagination, clear 4xx errors."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.audit.conftest import (
    AuditApi,
    Publish,
    TokenMint,
    hmrc_exchange,
    new_vrn,
    privileged_action,
    state_change,
)


async def all_pages(
    audit: AuditApi, path: str, headers: dict[str, str], **params: Any
) -> list[Any]:
    items: list[Any] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        r = await audit.http.get(path, headers=headers, params=query)
        assert r.status_code == 200, r.text
        body = r.json()
        items.extend(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return items


async def test_another_tenants_records_are_invisible(
    audit: AuditApi, publish: Publish, mint: TokenMint
) -> None:
    mine, theirs = str(uuid.uuid4()), str(uuid.uuid4())
    vrn_mine, vrn_theirs = new_vrn(), new_vrn()
    for _ in range(3):
        await publish("audit.hmrc.exchange", hmrc_exchange(mine, vrn_mine))
        await publish("audit.hmrc.exchange", hmrc_exchange(theirs, vrn_theirs))
    await publish("audit.auth.user_created", privileged_action(theirs, email="x@example.com"))
    await audit.wait_for_records(7)
    me = mint.headers(["auditor"], mine)

    items = await all_pages(audit, "/v1/audit/events", me)
    assert len(items) == 3 and {i["tenant_id"] for i in items} == {mine}
    # Asking for their VRN or trace ids finds nothing rather than their records.
    assert await all_pages(audit, "/v1/audit/hmrc-exchanges", me, vrn=vrn_theirs) == []
    r = await audit.http.get("/v1/audit/events", headers=me, params={"tenant_id": theirs})
    assert r.status_code == 403 and r.json()["code"] == "FORBIDDEN"
    r = await audit.http.get(
        "/v1/audit/evidence", headers=me, params={"from": "2020-01-01", "to": "2020-12-31"}
    )
    assert r.status_code == 200

    # Platform support reads no tenant's records without a break-glass grant.
    support = mint.headers(["platform_support"], None)
    for params in ({}, {"tenant_id": theirs}):
        r = await audit.http.get("/v1/audit/events", headers=support, params=params)
        assert r.status_code == 403 and r.json()["code"] == "FORBIDDEN"


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({}, 401, "NO_TOKEN"),
        ({"Authorization": "Bearer not-a-jwt"}, 401, "INVALID_TOKEN"),
        ("viewer", 403, "FORBIDDEN"),
        ("expired", 401, "TOKEN_EXPIRED"),
        ("unknown-kid", 401, "INVALID_TOKEN"),
    ],
)
async def test_callers_need_a_valid_token_and_the_auditor_role(
    audit: AuditApi, mint: TokenMint, headers: Any, status: int, code: str
) -> None:
    tenant = str(uuid.uuid4())
    if headers == "viewer":
        headers = mint.headers(["viewer", "tenant_admin"], tenant)
    elif headers == "expired":
        headers = mint.headers(["auditor"], tenant, ttl=-120)
    elif headers == "unknown-kid":
        headers = mint.headers(["auditor"], tenant, kid="forged")
    for path in ("/v1/audit/events", "/v1/audit/hmrc-exchanges", "/v1/audit/verify"):
        r = await audit.http.get(path, headers=headers)
        assert r.status_code == status, r.text
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["code"] == code


async def test_filters_and_cursor_pagination(
    audit: AuditApi, publish: Publish, mint: TokenMint
) -> None:
    tenant, vrn, other_vrn = str(uuid.uuid4()), new_vrn(), new_vrn()
    submission = str(uuid.uuid4())
    old = datetime.now(UTC) - timedelta(days=40)
    for _ in range(5):
        await publish("audit.hmrc.exchange", hmrc_exchange(tenant, vrn))
    await publish("audit.hmrc.exchange", hmrc_exchange(tenant, vrn, occurred_at=old))
    traced = hmrc_exchange(tenant, other_vrn, submission_id=submission)
    await publish("audit.hmrc.exchange", traced)
    await publish("audit.submission.submitted", state_change(tenant, vrn, submission, "submitted"))
    await publish("audit.submission.accepted", state_change(tenant, vrn, submission, "accepted"))
    await publish("audit.auth.user_created", privileged_action(tenant))
    await audit.wait_for_records(10)
    h = mint.headers(["auditor"], tenant)

    pages = []
    cursor = None
    while True:
        params: dict[str, Any] = {"vrn": vrn, "limit": 2}
        if cursor:
            params["cursor"] = cursor
        r = await audit.http.get("/v1/audit/hmrc-exchanges", headers=h, params=params)
        pages.append(r.json()["items"])
        cursor = r.json()["next_cursor"]
        if not cursor:
            break
    assert [len(p) for p in pages] == [2, 2, 2]
    seqs = [i["seq"] for p in pages for i in p]
    assert seqs == sorted(seqs) and len(set(seqs)) == 6

    since = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    recent = await all_pages(audit, "/v1/audit/hmrc-exchanges", h, vrn=vrn, **{"from": since})
    assert len(recent) == 5
    until = (datetime.now(UTC) - timedelta(days=30)).isoformat()
    assert len(await all_pages(audit, "/v1/audit/events", h, to=until)) == 1

    by_submission = await all_pages(audit, "/v1/audit/events", h, submission_id=submission)
    assert [i["kind"] for i in by_submission] == [
        "hmrc_exchange",
        "submission_state",
        "submission_state",
    ]
    assert [i.get("to_state") for i in by_submission][1:] == ["submitted", "accepted"]
    by_trace = await all_pages(audit, "/v1/audit/events", h, trace_id=traced["trace_id"])
    assert [i["correlation_id"] for i in by_trace] == [traced["correlation_id"]]
    by_corr = await all_pages(
        audit, "/v1/audit/hmrc-exchanges", h, correlation_id=traced["correlation_id"]
    )
    assert [i["vrn"] for i in by_corr] == [other_vrn]
    states = await all_pages(
        audit, "/v1/audit/events", h, kind="submission_state", period_key="24A1"
    )
    assert len(states) == 2 and states[1]["details"]["netVatDue"] == "105.50"
    actions = await all_pages(audit, "/v1/audit/events", h, kind="privileged_action")
    assert [a["action"] for a in actions] == ["user_created"]


@pytest.mark.parametrize(
    ("path", "params", "status", "code"),
    [
        ("/v1/audit/events", {"limit": 0}, 422, "INVALID_REQUEST"),
        ("/v1/audit/events", {"limit": 100000}, 400, "INVALID_LIMIT"),
        ("/v1/audit/events", {"limit": "many"}, 422, "INVALID_REQUEST"),
        ("/v1/audit/events", {"cursor": "garbage!"}, 400, "INVALID_CURSOR"),
        ("/v1/audit/events", {"cursor": "eyJhZnRlciI6LTF9"}, 400, "INVALID_CURSOR"),
        ("/v1/audit/events", {"vrn": "12345"}, 422, "INVALID_REQUEST"),
        ("/v1/audit/events", {"kind": "everything"}, 422, "INVALID_REQUEST"),
        ("/v1/audit/events", {"from": "yesterday"}, 422, "INVALID_REQUEST"),
        ("/v1/audit/events", {"from": "2026-01-01T00:00:00"}, 400, "INVALID_TIME_RANGE"),
        (
            "/v1/audit/hmrc-exchanges",
            {"from": "2026-02-01T00:00Z", "to": "2026-01-01T00:00Z"},
            400,
            "INVALID_TIME_RANGE",
        ),
        ("/v1/audit/evidence", {"from": "2026-01-01"}, 422, "INVALID_REQUEST"),
        (
            "/v1/audit/evidence",
            {"from": "2026-02-01", "to": "2026-01-01"},
            400,
            "INVALID_TIME_RANGE",
        ),
        ("/v1/audit/evidence", {"from": "2020-01-01", "to": "2026-01-01"}, 400, "RANGE_TOO_LARGE"),
    ],
)
async def test_bad_query_parameters_get_a_clear_4xx(
    audit: AuditApi, mint: TokenMint, path: str, params: dict[str, Any], status: int, code: str
) -> None:
    r = await audit.http.get(
        path, headers=mint.headers(["auditor"], str(uuid.uuid4())), params=params
    )
    assert r.status_code == status, r.text
    assert r.json()["code"] == code
