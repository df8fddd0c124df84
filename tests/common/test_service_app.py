"""What every service gets from the common app factory, over real HTTP with a real
PostgreSQL and NATS: RED metrics by route template, problem+json errors, request ids and
trace headers, readiness."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
import sqlalchemy as sa
import sqlalchemy.exc
from fastapi import APIRouter, Request
from pydantic import BaseModel, Field, SecretStr

from services.common.database import Database
from services.common.errors import ProblemError
from services.common.service import ServiceSpec, build_app
from services.common.settings import ServiceSettings
from services.stack.embedded import free_port
from tests.conftest import fresh_database
from tests.serving import serve

router = APIRouter()


class Box(BaseModel):
    vat_due_sales: str = Field(pattern=r"^-?\d{1,11}\.\d{2}$")
    count: int = Field(ge=0)


class Body(BaseModel):
    boxes: list[Box]


@router.get("/v1/items/{item_id}")
async def get_item(item_id: str) -> dict[str, str]:
    if item_id == "missing":
        raise ProblemError(404, "ITEM_NOT_FOUND", "No item with that id.", item_id=item_id)
    return {"id": item_id}


@router.post("/v1/items")
async def post_item(body: Body) -> dict[str, int]:
    return {"boxes": len(body.boxes)}


@router.get("/v1/busy")
async def busy() -> None:
    # What SQLAlchemy's pool raises when every connection stays busy past pool_timeout.
    raise sqlalchemy.exc.TimeoutError("QueuePool limit of size 5 overflow 10 reached")


@router.get("/v1/db-restarting")
async def db_restarting(request: Request) -> None:
    # The server ends this connection as a shutdown or restart does (57P01).
    async with request.app.state.runtime.database().transaction() as session:
        await session.execute(sa.text("SELECT pg_terminate_backend(pg_backend_pid())"))


@router.get("/v1/db-down")
async def db_down() -> None:
    # Nothing listens on the port: PostgreSQL is down (connection refused).
    db = Database(f"postgresql://postgres@127.0.0.1:{free_port()}/postgres")
    try:
        async with db.transaction() as session:
            await session.execute(sa.text("SELECT 1"))
    finally:
        await db.dispose()


@router.get("/v1/disk")
async def disk() -> None:
    # An OSError of our own (a missing file), not the database's.
    raise FileNotFoundError(2, "No such file or directory", "/nonexistent/mtd-vat/file")


@router.get("/v1/boom")
async def boom() -> None:
    raise RuntimeError("secret internals: password=hunter2")


SPEC = ServiceSpec(
    name="exemplar", title="Exemplar", settings_cls=ServiceSettings, routers=[router]
)


@pytest.fixture(scope="module")
async def base_url(pg_url: str, nats_url: str) -> AsyncIterator[str]:
    settings = ServiceSettings(
        database_url=SecretStr(await fresh_database(pg_url, "submission")), nats_url=nats_url
    )
    async with serve(build_app(SPEC, settings)) as url:
        yield url


async def test_metrics_are_labelled_by_route_template_never_by_raw_path(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        for item in ("GB123456789", "GB987654321", "missing"):
            await client.get(f"/v1/items/{item}")
        text = (await client.get("/metrics")).text
    counts = re.findall(
        r'http_server_requests_total\{method="GET",route="/v1/items/\{item_id\}",'
        r'service="exemplar",status="(\d+)"\} (\d+)',
        text,
    )
    assert {status: float(n) for status, n in counts} == {"200": 2, "404": 1}
    assert re.search(
        r'http_server_request_duration_seconds_bucket\{le="0.005",method="GET",'
        r'route="/v1/items/\{item_id\}",service="exemplar"\}',
        text,
    )
    assert "GB123456789" not in text and "missing" not in text


async def test_problem_errors_carry_stable_codes_request_ids_and_trace_headers(
    base_url: str,
) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        response = await client.get("/v1/items/missing", headers={"X-Request-ID": "abc-123"})
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["x-request-id"] == "abc-123"
    assert re.fullmatch(
        r"00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}", response.headers["traceparent"]
    )
    body = response.json()
    assert body["code"] == "ITEM_NOT_FOUND" and body["item_id"] == "missing"
    assert body["status"] == 404 and body["instance"] == "/v1/items/missing"


async def test_validation_errors_name_each_field_path(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        response = await client.post(
            "/v1/items", json={"boxes": [{"vat_due_sales": "1.5", "count": -1}]}
        )
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "INVALID_REQUEST"
    paths = sorted(e["path"] for e in body["errors"])
    assert paths == ["/boxes/0/count", "/boxes/0/vat_due_sales"]


async def test_malformed_json_is_a_clear_4xx(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        response = await client.post(
            "/v1/items", content=b'{"boxes": [', headers={"content-type": "application/json"}
        )
    assert response.status_code == 422
    assert response.json()["code"] == "INVALID_REQUEST"


async def test_an_unhandled_error_is_a_500_problem_without_internals(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        response = await client.get("/v1/boom")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "INTERNAL_ERROR"
    assert "hunter2" not in response.text and "Traceback" not in response.text
    assert response.headers["x-request-id"]


async def test_unknown_paths_and_methods_are_problems(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        missing = await client.get("/v1/nothing/here")
        wrong_method = await client.delete("/v1/items")
    assert missing.status_code == 404 and missing.json()["code"] == "NOT_FOUND"
    assert wrong_method.status_code == 405
    assert wrong_method.json()["code"] == "METHOD_NOT_ALLOWED"


async def test_health_and_openapi(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        ready = (await client.get("/readyz")).json()
        spec = (await client.get("/openapi.json")).json()
    assert ready == {"status": "ready", "checks": {"database": "ok", "nats": "ok"}}
    assert "/v1/items/{item_id}" in spec["paths"]


async def test_answers_given_before_the_handler_are_labelled_by_template(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        r = await client.delete("/v1/items/GB555555555")  # the path exists; the method not
        assert r.status_code == 405
        assert r.headers["content-type"] == "application/problem+json"
        text = (await client.get("/metrics")).text
    assert re.search(
        r'http_server_requests_total\{method="DELETE",route="/v1/items/\{item_id\}",'
        r'service="exemplar",status="405"\} 1',
        text,
    )
    assert "GB555555555" not in text


async def test_an_exhausted_connection_pool_is_a_503_with_retry_after(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        r = await client.get("/v1/busy")
    assert r.status_code == 503
    assert r.json()["code"] == "SERVICE_BUSY"
    assert r.headers["retry-after"] == "2"


@pytest.mark.parametrize("path", ["/v1/db-restarting", "/v1/db-down"])
async def test_an_unavailable_database_is_a_503_with_retry_after(base_url: str, path: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        r = await client.get(path)
        after = await client.get("/readyz")
    assert r.status_code == 503, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == "DATABASE_UNAVAILABLE"
    assert r.headers["retry-after"] == "2"
    # The pool drops the ended connection: the service is ready again at once.
    assert after.json()["checks"]["database"] == "ok"


async def test_an_os_error_of_our_own_is_still_a_500(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        r = await client.get("/v1/disk")
    assert r.status_code == 500
    assert r.json()["code"] == "INTERNAL_ERROR"
