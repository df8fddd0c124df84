"""HMRC's OAuth 2.0 endpoints: the authorize URL (code grant with PKCE S256) and the token
endpoint (code exchange, refresh). Errors come back in RFC 6749 form, `{error,
error_description}`; `invalid_grant` on refresh means the grant is gone for good."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx

from services.auth.settings import AuthSettings
from services.common.http_client import make_client


@dataclass(frozen=True)
class HmrcTokens:
    access_token: str
    refresh_token: str
    expires_in: int
    # HMRC names the scopes on a code exchange, not on a refresh.
    scopes: list[str] | None


class HmrcOAuthError(Exception):
    """HMRC answered the token request with an OAuth error."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.status = status
        self.error = error
        self.description = description


class HmrcUnavailable(Exception):
    """HMRC could not be reached or failed (5xx, timeout, unreadable answer)."""


def pkce_pair() -> tuple[str, str]:
    """A code verifier (43+ unreserved characters) and its S256 challenge."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).decode().rstrip("=")


class HmrcOAuthClient:
    def __init__(self, settings: AuthSettings, client: httpx.AsyncClient | None = None) -> None:
        self.settings = settings
        self._client = client

    @property
    def http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = make_client(self.settings.hmrc_base_url)
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def authorize_url(self, *, state: str, code_challenge: str, redirect_uri: str) -> str:
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.settings.hmrc_client_id,
                "scope": self.settings.hmrc_scopes,
                "state": state,
                "redirect_uri": redirect_uri,
                "code_challenge": code_challenge,
                "code_challenge_method": "S256",
            }
        )
        return f"{self.settings.authorize_url()}?{query}"

    async def exchange_code(self, *, code: str, verifier: str, redirect_uri: str) -> HmrcTokens:
        return await self._token_request(
            {
                "grant_type": "authorization_code",
                "code": code,
                "code_verifier": verifier,
                "redirect_uri": redirect_uri,
            }
        )

    async def refresh(self, refresh_token: str) -> HmrcTokens:
        return await self._token_request(
            {"grant_type": "refresh_token", "refresh_token": refresh_token}
        )

    async def _token_request(self, form: dict[str, str]) -> HmrcTokens:
        form = {
            "client_id": self.settings.hmrc_client_id,
            "client_secret": self.settings.hmrc_client_secret.get_secret_value(),
            **form,
        }
        try:
            response = await self.http.post("/oauth/token", data=form)
        except httpx.HTTPError as exc:
            raise HmrcUnavailable(
                f"HMRC's token endpoint did not answer ({type(exc).__name__})"
            ) from None
        body = _json(response)
        if response.status_code >= 500:
            raise HmrcUnavailable(f"HMRC's token endpoint answered {response.status_code}")
        if response.status_code != 200:
            raise HmrcOAuthError(
                response.status_code,
                str(body.get("error", "unknown_error")),
                str(body.get("error_description", "")),
            )
        try:
            return HmrcTokens(
                access_token=str(body["access_token"]),
                refresh_token=str(body["refresh_token"]),
                expires_in=int(body.get("expires_in", 14400)),
                scopes=str(body["scope"]).split() if body.get("scope") else None,
            )
        except (KeyError, ValueError):
            raise HmrcUnavailable("HMRC's token response lacks the tokens") from None


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
