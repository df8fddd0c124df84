"""A recording HTTP proxy between the gateway and the HMRC simulator, so tests can check
every request the gateway really sent and every response the simulator really gave."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import unquote

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

# Hop-by-hop or recomputed headers that a proxy must not copy.
_SKIP = {"host", "content-length", "transfer-encoding", "connection", "content-encoding"}


@dataclass(frozen=True)
class Exchange:
    method: str
    path: str  # decoded, as HMRC's router sees it (`%23001` -> `#001`)
    query: dict[str, str]
    request_headers: dict[str, str]
    request_body: bytes
    status: int
    response_headers: dict[str, str]
    response_body: bytes


@dataclass
class Recorder:
    upstream: str
    exchanges: list[Exchange] = field(default_factory=list)

    def app(self) -> Starlette:
        client = httpx.AsyncClient(base_url=self.upstream, timeout=30)

        async def forward(request: Request) -> Response:
            body = await request.body()
            headers = {k: v for k, v in request.headers.items() if k.lower() not in _SKIP}
            answer = await client.request(
                request.method,
                request.url.path,
                params=list(request.query_params.multi_items()),
                headers=headers,
                content=body,
            )
            self.exchanges.append(
                Exchange(
                    request.method,
                    unquote(request.url.path),
                    dict(request.query_params),
                    dict(request.headers),
                    body,
                    answer.status_code,
                    dict(answer.headers),
                    answer.content,
                )
            )
            kept = {k: v for k, v in answer.headers.items() if k.lower() not in _SKIP}
            return Response(answer.content, answer.status_code, headers=kept)

        methods = ["GET", "POST", "PUT", "DELETE", "PATCH"]

        @contextlib.asynccontextmanager
        async def lifespan(_: Starlette) -> AsyncIterator[None]:
            yield
            await client.aclose()

        return Starlette(
            routes=[Route("/{path:path}", forward, methods=methods)], lifespan=lifespan
        )
