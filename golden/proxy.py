"""A recording HTTP proxy between the gateway and the HMRC simulator.

The simulator keeps no log of the requests it received, so the runner points the gateway's
HMRC base URL here and records each request exactly as it was sent (method, path, query,
headers, body) before passing it on unchanged.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

# Hop-by-hop headers belong to one connection, not to the request HMRC sees.
_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "te", "upgrade", "proxy-connection"}
)


@dataclass
class Recorded:
    method: str
    path: str
    query: list[tuple[str, str]]
    headers: list[tuple[str, str]]
    body: bytes
    status: int = 0


@dataclass
class Recorder:
    target: str = ""
    requests: list[Recorded] = field(default_factory=list)
    in_flight: int = 0
    last_activity: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self) -> list[Recorded]:
        with self.lock:
            taken, self.requests = self.requests, []
        return taken

    def idle_for(self) -> float:
        with self.lock:
            return 0.0 if self.in_flight else time.monotonic() - self.last_activity


def _app(recorder: Recorder) -> Starlette:
    client = httpx.AsyncClient(timeout=httpx.Timeout(300.0))

    async def forward(request: Request) -> Response:
        body = await request.body()
        recorded = Recorded(
            request.method,
            request.url.path,
            list(request.query_params.multi_items()),
            [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw],
            body,
        )
        with recorder.lock:
            recorder.requests.append(recorded)
            recorder.in_flight += 1
        try:
            headers = [(k, v) for k, v in recorded.headers if k.lower() not in _HOP | {"host"}]
            query = f"?{request.url.query}" if request.url.query else ""
            upstream = await client.request(
                request.method,
                recorder.target + request.url.path + query,
                headers=headers,
                content=body,
            )
            recorded.status = upstream.status_code
            keep = {
                k: v
                for k, v in upstream.headers.items()
                if k.lower() not in _HOP | {"content-length", "content-encoding"}
            }
            return Response(upstream.content, status_code=upstream.status_code, headers=keep)
        finally:
            with recorder.lock:
                recorder.in_flight -= 1
                recorder.last_activity = time.monotonic()

    methods = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"]
    return Starlette(routes=[Route("/{path:path}", forward, methods=methods)])


class RecordingProxy:
    """The proxy on 127.0.0.1:`port`, served from a thread of its own."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.recorder = Recorder()
        config = uvicorn.Config(
            _app(self.recorder),
            host="127.0.0.1",
            port=port,
            log_config=None,
            access_log=False,
            lifespan="off",
            # Transparent: the simulator's own Date and Server headers pass through alone.
            server_header=False,
            date_header=False,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._serve, name="golden-proxy", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        asyncio.run(self._server.serve())

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise SystemExit(f"the recording proxy could not listen on port {self.port}")
            time.sleep(0.02)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def wait_idle(self, quiet: float = 0.25, timeout: float = 30.0) -> None:
        """Until no request has been in flight for `quiet` seconds."""
        deadline = time.monotonic() + timeout
        while self.recorder.idle_for() < quiet and time.monotonic() < deadline:
            time.sleep(0.05)


def as_dict(recorded: Recorded) -> dict[str, Any]:
    return {
        "method": recorded.method,
        "path": recorded.path,
        "query": recorded.query,
        "headers": recorded.headers,
        "body": recorded.body.decode("utf-8", errors="replace"),
        "status": recorded.status,
    }
