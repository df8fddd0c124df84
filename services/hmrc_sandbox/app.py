"""App factory of the hmrc_sandbox service."""

from __future__ import annotations

import inspect
from typing import Any

from fastapi import FastAPI
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response

from services.common import hmrc_errors
from services.common.openapi_problems import document_errors, problem_response
from services.common.service import Runtime, ServiceSpec, build_app
from services.common.settings import ServiceSettings, load_settings
from services.hmrc_sandbox.gateway import error_response
from services.hmrc_sandbox.routes import control, fraud, oauth, test_users, vat
from services.hmrc_sandbox.sandbox import Sandbox
from services.hmrc_sandbox.settings import HmrcSandboxSettings

SPEC = ServiceSpec(
    name="hmrc_sandbox",
    title="HMRC sandbox simulator",
    description=(
        "A faithful simulator of HMRC's sandbox: OAuth, test users, the VAT API and "
        "fraud prevention header validation."
    ),
    settings_cls=HmrcSandboxSettings,
    routers=(oauth.router, test_users.router, vat.router, fraud.router, control.router),
    uses_nats=False,
    uses_outbox=False,
    abuse_limits=False,
)

# The platform's own paths keep problem+json; everything else is HMRC's.
_PLATFORM_PATHS = ("/control", "/healthz", "/readyz", "/metrics", "/openapi.json", "/docs")
# HMRC's error bodies: `{code, message[, errors]}`, `{statusCode, message}` from some
# validators, `{error, error_description}` from OAuth; the consent page answers in HTML.
_HMRC_ERROR = {
    "type": "object",
    "minProperties": 1,
    "properties": {
        "code": {"type": "string"},
        "message": {"type": "string"},
        "statusCode": {"type": "integer"},
        "errors": {"type": "array"},
        "error": {"type": "string"},
        "error_description": {"type": "string"},
    },
}


def _errors(path: str) -> dict[str, Any]:
    if path.startswith(_PLATFORM_PATHS):
        return problem_response("An error, as problem details")
    content: dict[str, Any] = {"application/json": {"schema": _HMRC_ERROR}}
    if path == "/oauth/authorize":
        content["text/html"] = {"schema": {"type": "string"}}
    return {"description": "An error, as HMRC answers it", "content": content}


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    settings = settings or load_settings(HmrcSandboxSettings)
    assert isinstance(settings, HmrcSandboxSettings)
    app = build_app(SPEC, settings)
    sandbox = Sandbox(settings)
    app.state.sandbox = sandbox
    # Play does not redirect `/returns/` to `/returns`; it answers 404 like any unknown path.
    app.router.redirect_slashes = False
    document_errors(app, _errors)

    # Load the persisted state once the database is connected, before the first request.
    async def start(runtime: Runtime) -> None:
        await sandbox.start(runtime.database())

    app.state.runtime.on_start(start)

    platform_handler = app.exception_handlers[StarletteHTTPException]

    async def not_found(request: Request, exc: Exception) -> Response:
        if request.url.path.startswith(_PLATFORM_PATHS):
            answer = platform_handler(request, exc)
            return await answer if inspect.isawaitable(answer) else answer
        # Play answers an unknown route, or a known one with another method, with a 404.
        return error_response(hmrc_errors.MATCHING_RESOURCE_NOT_FOUND, sandbox.ids.uuid())

    app.add_exception_handler(StarletteHTTPException, not_found)

    return app
