"""HMRC's OAuth 2.0: authorisation codes (with PKCE), refresh tokens, client credentials.

Error codes and messages are those of `contracts/hmrc/platform/oauth-and-platform.json`;
lifetimes too: 4-hour access tokens, 10-minute single-use codes, an 18-month grant, and a
single-use refresh token whose use revokes the previous access token at once.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

from services.common import hmrc_contracts as contracts
from services.hmrc_sandbox.obligations import add_months
from services.hmrc_sandbox.records import Application, AuthCode, Grant, TestUser, Token, digest
from services.hmrc_sandbox.sandbox import Sandbox

PLATFORM = contracts.load(contracts.OAUTH_AND_PLATFORM)
ACCESS_TOKEN_LIFETIME = timedelta(seconds=int(PLATFORM["token"]["response_example"]["expires_in"]))
CODE_LIFETIME = timedelta(minutes=10)
GRANT_MONTHS = 18
SCOPES = frozenset(PLATFORM["scopes"])
_VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")


@dataclass(frozen=True)
class OAuthError(Exception):
    status: int
    error: str
    description: str

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


def _documented(table: list[list[Any]], *entry: Any) -> OAuthError:
    if list(entry) not in [list(row) for row in table]:
        raise LookupError(f"{entry} is not a documented OAuth error")
    if len(entry) == 2:
        return OAuthError(400, str(entry[0]), str(entry[1]))
    return OAuthError(int(entry[0]), str(entry[1]), str(entry[2]))


_A = PLATFORM["authorize"]["errors_400"]
_T = PLATFORM["token"]["errors"]


def authorize_error(error: str, description: str) -> OAuthError:
    return _documented(_A, error, description)


def token_error(status: int, error: str, description: str) -> OAuthError:
    return _documented(_T, status, error, description)


# Refresh failures are documented as scenarios without exact messages; these are ours.
REFRESH_TOKEN_REQUIRED = OAuthError(400, "invalid_request", "refresh_token is required")
REFRESH_TOKEN_INVALID = OAuthError(400, "invalid_grant", "refresh_token is invalid")
REFRESH_IN_PROGRESS = token_error(
    400, "invalid_request", "Refresh operation is already in progress"
)


@dataclass(frozen=True)
class AuthorizeRequest:
    client: Application
    redirect_uri: str
    scopes: list[str]
    state: str | None
    code_challenge: str | None
    params: dict[str, str]


def _redirect_ok(app: Application, uri: str) -> bool:
    if app.redirect_uris:
        return uri in app.redirect_uris
    if uri in ("urn:ietf:wg:oauth:2.0:oob", "urn:ietf:wg:oauth:2.0:oob:auto"):
        return True
    parts = urlsplit(uri)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and not parts.fragment


def check_authorize(sandbox: Sandbox, params: dict[str, str]) -> AuthorizeRequest:
    """The authorize request's parameters, checked in the order HMRC documents its errors."""
    client_id = params.get("client_id")
    if not client_id:
        raise authorize_error("invalid_request", "client_id is required")
    client = sandbox.state.applications.get(client_id)
    if client is None:
        raise authorize_error("invalid_request", "client_id is invalid")
    redirect_uri = params.get("redirect_uri")
    if not redirect_uri:
        raise authorize_error("invalid_request", "redirect_uri is required")
    if not _redirect_ok(client, redirect_uri):
        raise authorize_error("invalid_request", "redirect_uri is invalid")
    response_type = params.get("response_type")
    if not response_type:
        raise authorize_error("invalid_request", "response_type is required")
    if response_type != "code":
        raise authorize_error("unsupported_response_type", "response_type must be 'code'")
    scope = params.get("scope")
    if not scope:
        raise authorize_error("invalid_request", "scope is required")
    scopes = scope.split()
    if not scopes or not set(scopes) <= SCOPES:
        raise authorize_error("invalid_scope", "scope is invalid")
    if "client_secret" in params:
        raise authorize_error("invalid_request", "client_secret should NOT be present")
    challenge = params.get("code_challenge")
    method = params.get("code_challenge_method")
    if challenge is not None and challenge == "":
        raise authorize_error("invalid_request", "code_challenge if present, cannot be empty")
    if method is not None and method != "S256":
        raise authorize_error("invalid_request", "code_challenge_method, if present, must be S256")
    if challenge is not None and method is None:
        raise authorize_error(
            "invalid_request",
            "code_challenge_method should be present when code_challenge is present",
        )
    if method is not None and challenge is None:
        raise authorize_error(
            "invalid_request",
            "code_challenge should be present when code_challenge_method is present",
        )
    return AuthorizeRequest(client, redirect_uri, scopes, params.get("state"), challenge, params)


def redirect(uri: str, **params: str | None) -> str:
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return f"{uri}{'&' if '?' in uri else '?'}{query}"


def denied_redirect(request: AuthorizeRequest) -> str:
    return redirect(
        request.redirect_uri,
        error="access_denied",
        error_description="user denied the authorization",
        error_code="USER_DENIED_AUTHORIZATION",
        state=request.state,
    )


def sign_in(sandbox: Sandbox, user_id: str, password: str) -> TestUser | None:
    user = sandbox.state.users.get(user_id)
    if user is None or user.password_digest != digest(password):
        return None
    return user


async def grant_code(sandbox: Sandbox, request: AuthorizeRequest, user: TestUser) -> str:
    """A new single-use authorisation code (valid for 10 minutes)."""
    code = sandbox.ids.alnum(40)
    record = AuthCode(
        code_digest=digest(code),
        client_id=request.client.client_id,
        user_id=user.user_id,
        redirect_uri=request.redirect_uri,
        scopes=request.scopes,
        code_challenge=request.code_challenge,
        expires_at=sandbox.clock.now() + CODE_LIFETIME,
    )
    await sandbox.store.put(record)
    sandbox.state.add(record)
    return code


# -- the token endpoint ----------------------------------------------------------------------
def authenticate_client(sandbox: Sandbox, form: dict[str, str]) -> Application:
    client_id = form.get("client_id")
    if not client_id:
        raise token_error(400, "invalid_request", "client_id is required")
    secret = form.get("client_secret")
    if not secret:
        raise token_error(400, "invalid_request", "client_secret is required")
    client = sandbox.state.applications.get(client_id)
    if client is None or digest(secret) not in client.secret_digests:
        raise token_error(401, "invalid_client", "invalid client id or secret")
    return client


async def token(sandbox: Sandbox, form: dict[str, str]) -> dict[str, Any]:
    client = authenticate_client(sandbox, form)
    grant_type = form.get("grant_type")
    if not grant_type:
        raise token_error(400, "invalid_request", "grant_type is required")
    if grant_type == "authorization_code":
        return await _authorization_code(sandbox, client, form)
    if grant_type == "refresh_token":
        return await _refresh(sandbox, client, form)
    if grant_type == "client_credentials":
        return await _client_credentials(sandbox, client, form)
    raise token_error(400, "invalid_request", "unsupported grant_type")


def _s256(verifier: str) -> str:
    hashed = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(hashed).rstrip(b"=").decode("ascii")


async def _authorization_code(
    sandbox: Sandbox, client: Application, form: dict[str, str]
) -> dict[str, Any]:
    redirect_uri = form.get("redirect_uri")
    if not redirect_uri:
        raise token_error(400, "invalid_request", "redirect_uri is required")
    code = form.get("code")
    if not code:
        raise token_error(400, "invalid_request", "code is required for given grant_type")
    record = sandbox.state.codes.get(digest(code))
    now = sandbox.clock.now()
    if record is None or record.client_id != client.client_id or record.expires_at <= now:
        raise token_error(400, "invalid_request", "code is invalid")
    if record.redirect_uri != redirect_uri:
        raise token_error(400, "invalid_request", "redirect_uri is invalid")
    verifier = form.get("code_verifier")
    if record.code_challenge is None and verifier is not None:
        raise token_error(400, "invalid_request", "code_verifier is not expected")
    if record.code_challenge is not None:
        if verifier is None:
            raise token_error(
                400, "invalid_request", "code_verifier is expected when code_challenge was supplied"
            )
        if not _VERIFIER.match(verifier):
            raise token_error(
                400,
                "invalid_request",
                "code_verifier must contain valid characters of length between 43 and 128",
            )
        if _s256(verifier) != record.code_challenge:
            raise token_error(400, "invalid_grant", "code_verifier is invalid")

    grant = Grant(
        grant_id=sandbox.ids.uuid(),
        client_id=client.client_id,
        user_id=record.user_id,
        scopes=record.scopes,
        created_at=now,
        expires_at=_grant_expiry(now),
    )
    access, refresh, records = _token_pair(sandbox, grant)
    # The code is used up in the same write that creates the grant.
    sandbox.state.codes.pop(record.code_digest, None)
    await sandbox.store.put(grant, *records)
    await sandbox.store.delete(AuthCode.KIND, record.code_digest)
    sandbox.state.add(grant)
    for item in records:
        sandbox.state.add(item)
    return {
        "access_token": access,
        "token_type": "bearer",
        "expires_in": int(ACCESS_TOKEN_LIFETIME.total_seconds()),
        "refresh_token": refresh,
        "scope": " ".join(grant.scopes),
    }


def _grant_expiry(now: datetime) -> datetime:
    day = add_months(now.date(), GRANT_MONTHS)
    return now.replace(year=day.year, month=day.month, day=day.day)


def _token_pair(sandbox: Sandbox, grant: Grant) -> tuple[str, str, list[Token]]:
    now = sandbox.clock.now()
    access = sandbox.ids.alnum(32)
    refresh = sandbox.ids.alnum(32)
    records = [
        Token(digest(access), "access", grant.grant_id, now + ACCESS_TOKEN_LIFETIME),
        Token(digest(refresh), "refresh", grant.grant_id, grant.expires_at),
    ]
    return access, refresh, records


async def _refresh(sandbox: Sandbox, client: Application, form: dict[str, str]) -> dict[str, Any]:
    presented = form.get("refresh_token")
    if not presented:
        raise REFRESH_TOKEN_REQUIRED
    key = digest(presented)
    if key in sandbox.refreshing:
        raise REFRESH_IN_PROGRESS
    record = sandbox.state.tokens.get(key)
    now = sandbox.clock.now()
    grant = sandbox.state.grants.get(record.grant_id) if record is not None else None
    if (
        record is None
        or record.kind != "refresh"
        or grant is None
        or grant.client_id != client.client_id
        or grant.expires_at <= now
    ):
        raise REFRESH_TOKEN_INVALID
    sandbox.refreshing.add(key)
    try:
        old = sorted(sandbox.state.tokens_by_grant.get(grant.grant_id, set()))
        access, refresh, records = _token_pair(sandbox, grant)
        await sandbox.store.put(*records)
        await sandbox.store.delete(Token.KIND, *old)
        # The previous access token stops working now, as does the refresh token just used.
        for digest_ in old:
            sandbox.state.discard_token(digest_)
        for item in records:
            sandbox.state.add(item)
    finally:
        sandbox.refreshing.discard(key)
    return {
        "access_token": access,
        "token_type": "bearer",
        "expires_in": int(ACCESS_TOKEN_LIFETIME.total_seconds()),
        "refresh_token": refresh,
    }


async def _client_credentials(
    sandbox: Sandbox, client: Application, form: dict[str, str]
) -> dict[str, Any]:
    scopes = (form.get("scope") or "").split()
    if not set(scopes) <= SCOPES:
        raise token_error(400, "invalid_scope", "scope is invalid")
    now = sandbox.clock.now()
    grant = Grant(
        grant_id=sandbox.ids.uuid(),
        client_id=client.client_id,
        user_id=None,
        scopes=scopes,
        created_at=now,
        expires_at=now + ACCESS_TOKEN_LIFETIME,
    )
    access = sandbox.ids.alnum(32)
    record = Token(digest(access), "access", grant.grant_id, grant.expires_at)
    await sandbox.store.put(grant, record)
    sandbox.state.add(grant)
    sandbox.state.add(record)
    answer: dict[str, Any] = {
        "access_token": access,
        "token_type": "bearer",
        "expires_in": int(ACCESS_TOKEN_LIFETIME.total_seconds()),
    }
    if scopes:
        answer["scope"] = " ".join(scopes)
    return answer
