"""Response headers that keep browsers from misusing API answers, and CORS only on request.

Every answer gets `X-Content-Type-Options`, `X-Frame-Options`, `Referrer-Policy` and HSTS; JSON
answers also get a `Content-Security-Policy` that allows nothing and `Cache-Control: no-store`
unless the handler chose its own caching (obligations says how fresh its answer is). HTML
pages (the simulator's consent form, the API docs) keep their own needs. Cross-origin
requests are refused by browsers unless `cors_origins` names the origins allowed.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

ALWAYS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "strict-transport-security": "max-age=31536000; includeSubDomains",
}
FOR_JSON = {
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
    "cache-control": "no-store",
}


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                extra = dict(ALWAYS)
                if "json" in headers.get("content-type", ""):
                    extra.update(FOR_JSON)
                for name, value in extra.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, with_headers)
