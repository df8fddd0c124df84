"""After a scenario's steps: the HMRC requests the proxy recorded and the tenant's audit
trail, once both have settled."""

from __future__ import annotations

import time
from typing import Any

from golden.context import Context, ok
from golden.proxy import as_dict

# Request headers that describe the connection or the HTTP library, not the request.
DROPPED_HMRC_HEADERS = frozenset({"host", "accept-encoding", "connection", "user-agent"})


def hmrc_requests(ctx: Context) -> list[dict[str, Any]]:
    ctx.stack.proxy.wait_idle()
    out = []
    for recorded in ctx.stack.proxy.recorder.take():
        item = as_dict(recorded)
        headers = sorted(
            ((k.lower(), v) for k, v in item["headers"] if k.lower() not in DROPPED_HMRC_HEADERS),
        )
        item["headers"] = dict(headers)
        item["query"] = dict(item["query"])
        out.append(item)  # the body stays the exact text sent: amounts keep their digits
    return out


def audit_records(ctx: Context, expected: int | None) -> list[dict[str, Any]]:
    """The tenant's audit records once the asynchronous trail has settled: as many as
    expected (when known) and no new one for a while."""
    headers = {"Authorization": f"Bearer {ctx.tokens['client']}"}
    url = ctx.url("audit") + "/v1/audit/events"
    deadline = time.monotonic() + 15
    seen: list[dict[str, Any]] = []
    stable_since = time.monotonic()
    while True:
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            params = {"tenant_id": ctx.variables["tenant_id"], "limit": "100"}
            if cursor:
                params["cursor"] = cursor
            page = ok(ctx.http.get(url, params=params, headers=headers), "audit events")
            items += page["items"]
            cursor = page.get("next_cursor")
            if not cursor:
                break
        if len(items) != len(seen):
            seen, stable_since = items, time.monotonic()
        quiet = time.monotonic() - stable_since
        settled = quiet >= (1.0 if expected is None else 0.3)
        if (settled and len(seen) >= (expected or 0)) or time.monotonic() > deadline:
            return seen
        time.sleep(0.25)
