"""The outbound HTTP client retries only what is safe to repeat, and propagates the trace."""

from __future__ import annotations

from collections import Counter

import httpx
import pytest
from fastapi import FastAPI, Request, Response

from services.common import telemetry
from services.common.http_client import make_client
from services.stack.embedded import free_port
from tests.serving import serve

hits: Counter[str] = Counter()
seen_traceparents: list[str] = []
flaky = FastAPI()


@flaky.api_route("/flaky/{key}", methods=["GET", "POST"])
async def flaky_endpoint(key: str, request: Request) -> Response:
    hits[f"{request.method} {key}"] += 1
    seen_traceparents.append(request.headers.get("traceparent", ""))
    if hits[f"{request.method} {key}"] <= 2:
        return Response(status_code=503)
    return Response(content=b"ok")


async def test_get_is_retried_through_transient_503s() -> None:
    async with serve(flaky) as url, make_client(url) as client:
        response = await client.get("/flaky/a")
    assert response.status_code == 200
    assert hits["GET a"] == 3


async def test_post_is_never_retried() -> None:
    async with serve(flaky) as url, make_client(url) as client:
        response = await client.post("/flaky/b", content=b"{}")
    assert response.status_code == 503
    assert hits["POST b"] == 1


async def test_retries_stop_after_the_limit_and_return_the_last_answer() -> None:
    async with serve(flaky) as url, make_client(url, retries=2) as client:
        response = await client.get("/flaky/c")
    assert response.status_code == 503
    assert hits["GET c"] == 2


async def test_connection_refused_raises_after_retries() -> None:
    async with make_client(f"http://127.0.0.1:{free_port()}") as client:
        with pytest.raises(httpx.ConnectError):
            await client.get("/anything")


async def test_trace_context_travels_with_the_request() -> None:
    telemetry.setup_tracing("unit")
    tracer = telemetry.get_tracer("unit")
    seen_traceparents.clear()
    async with serve(flaky) as url, make_client(url) as client:
        with tracer.start_as_current_span("caller") as span:
            await client.post("/flaky/d")
    trace_id = format(span.get_span_context().trace_id, "032x")
    assert seen_traceparents
    assert seen_traceparents[0].split("-")[1] == trace_id
