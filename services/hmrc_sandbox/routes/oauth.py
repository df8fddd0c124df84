"""OAuth 2.0: the consent page at /oauth/authorize and the token endpoint at /oauth/token.

The consent page is a plain form (fields `user_id`, `password`, `decision` = grant | deny,
and the original query parameters as hidden fields) that posts back to /oauth/authorize and
is answered with the redirect HMRC would send, so scripts can post it without a browser.
"""

from __future__ import annotations

import html
from importlib import resources
from string import Template

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from services.hmrc_sandbox import oauth
from services.hmrc_sandbox.gateway import Endpoint, handle_open, read_form
from services.hmrc_sandbox.oauth import AuthorizeRequest, OAuthError
from services.hmrc_sandbox.sandbox import Sandbox

router = APIRouter(prefix="/oauth", tags=["OAuth 2.0"])

AUTHORIZE = Endpoint("oauth_authorize")
TOKEN = Endpoint("oauth_token")
_PAGE = Template(resources.files("services.hmrc_sandbox").joinpath("consent.html").read_text())
_PAGE_FIELDS = ("user_id", "password", "decision")
_OOB = ("urn:ietf:wg:oauth:2.0:oob", "urn:ietf:wg:oauth:2.0:oob:auto")


def _oauth_error(error: OAuthError) -> JSONResponse:
    return JSONResponse(
        error.body(), status_code=error.status, headers={"Cache-Control": "no-store"}
    )


def _page(
    request: AuthorizeRequest, status: int = 200, message: str = "", user_id: str = ""
) -> HTMLResponse:
    hidden = "\n".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in request.params.items()
        if k not in _PAGE_FIELDS
    )
    body = _PAGE.substitute(
        application=html.escape(request.client.name),
        scopes=html.escape(", ".join(request.scopes)),
        message=f'<p role="alert">{html.escape(message)}</p>' if message else "",
        hidden=hidden,
        user_id=html.escape(user_id),
    )
    return HTMLResponse(body, status_code=status)


async def _show(request: Request, sandbox: Sandbox) -> Response:
    try:
        authorize = oauth.check_authorize(sandbox, dict(request.query_params))
    except OAuthError as error:
        return _oauth_error(error)
    return _page(authorize)


async def _decide(request: Request, sandbox: Sandbox) -> Response:
    form = await read_form(request, sandbox.settings.max_body_bytes)
    params = {**dict(request.query_params), **form}
    fields = {k: params.pop(k, "") for k in _PAGE_FIELDS}
    try:
        authorize = oauth.check_authorize(sandbox, params)
    except OAuthError as error:
        return _oauth_error(error)
    if fields["decision"] == "deny":
        return RedirectResponse(oauth.denied_redirect(authorize), status_code=303)
    if fields["decision"] != "grant":
        return _page(authorize, 400, "Choose whether to grant authority.", fields["user_id"])
    user = oauth.sign_in(sandbox, fields["user_id"], fields["password"])
    if user is None:
        return _page(authorize, 401, "Incorrect user ID or password.", fields["user_id"])
    code = await oauth.grant_code(sandbox, authorize, user)
    if authorize.redirect_uri in _OOB:  # installed applications: HMRC shows the code
        return HTMLResponse(f"<p>Your authorisation code: <code>{html.escape(code)}</code></p>")
    location = oauth.redirect(authorize.redirect_uri, code=code, state=authorize.state)
    return RedirectResponse(location, status_code=303)


async def _token(request: Request, sandbox: Sandbox) -> Response:
    form = await read_form(request, sandbox.settings.max_body_bytes)
    try:
        answer = await oauth.token(sandbox, form)
    except OAuthError as error:
        return _oauth_error(error)
    return JSONResponse(answer, headers={"Cache-Control": "no-store"})


@router.get("/authorize", summary="Consent page: sign in as a test user, grant or deny")
async def authorize_page(request: Request) -> Response:
    return await handle_open(request, AUTHORIZE, _show)


@router.post("/authorize", summary="The consent form's answer: HMRC's redirect")
async def authorize_decision(request: Request) -> Response:
    return await handle_open(request, AUTHORIZE, _decide)


@router.post(
    "/token", summary="Token endpoint: authorization_code, refresh_token, client_credentials"
)
async def token(request: Request) -> Response:
    return await handle_open(request, TOKEN, _token)
