"""Prometheus metrics: RED per route template, and the `/metrics` endpoint.

Labels use the matched route's template (``/v1/vat/{vrn}/returns``), never the raw path,
so a VRN or id never becomes a metric series.
"""

from __future__ import annotations

import time

from fastapi.routing import iter_route_contexts
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HTTP_REQUESTS = Counter(
    "http_server_requests",
    "HTTP requests handled, by route template and status code.",
    ["service", "method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "http_server_request_duration_seconds",
    "Time to handle an HTTP request, by route template.",
    ["service", "method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

UNMATCHED_ROUTE = "<unmatched>"


def route_template(scope: Scope) -> str:
    route = scope.get("route")
    if route is not None and hasattr(route, "path"):
        return str(route.path)
    # A request answered before its handler ran (a 401, 405, 413): find the template anyway.
    # Included routers are walked through their routes' contexts, which carry full paths.
    app = scope.get("app")
    routes = getattr(getattr(app, "router", None), "routes", [])
    partial = None
    for context in iter_route_contexts(routes):
        match, _ = context.route.matches(scope)
        if match == Match.FULL:
            return str(context.path)
        if match == Match.PARTIAL and partial is None:
            partial = str(context.path)  # the path matched, the method did not (405)
    return partial or UNMATCHED_ROUTE


class REDMiddleware:
    """Counts requests and times them, labelled by route template."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = route_template(scope)
            method = scope["method"]
            HTTP_REQUESTS.labels(self.service, method, route, str(status)).inc()
            HTTP_DURATION.labels(self.service, method, route).observe(time.perf_counter() - start)


async def metrics_endpoint(_: Request) -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
