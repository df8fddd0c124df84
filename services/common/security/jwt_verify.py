"""Verify the platform's access tokens locally, from the auth service's JWKS.

Every service checks a bearer token itself: signature (EdDSA/Ed25519 or RS256) with the key
named by the token's `kid`, issuer, audience and expiry. Keys come from
`GET /v1/auth/jwks.json`, cached; a token signed with a `kid` the cache does not know
triggers one refetch (rate-limited), so a key rotation is picked up without a restart and
a flood of forged `kid`s cannot turn into a flood of JWKS requests.

In an app::

    app.state.token_verifier = TokenVerifier(JwksKeySource(url), issuer=..., audience=...)

    @router.get("/v1/things", dependencies=[Depends(require_roles("viewer"))])
    async def things(principal: Principal = Depends(authenticated)) -> ...
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx
import jwt
import structlog
from fastapi import Request
from jwt.algorithms import OKPAlgorithm, RSAAlgorithm

from services.common.errors import ProblemError
from services.common.logging import get_logger
from services.common.security import break_glass

log = get_logger(__name__)

ALGORITHMS = ("EdDSA", "RS256")
PLATFORM_ROLES = frozenset({"platform_admin", "platform_support", "platform_service"})


@dataclass(frozen=True)
class Principal:
    """Who is calling: an API client or a signed-in user, in a tenant (or the platform)."""

    subject: str
    kind: str  # "client" or "user"
    tenant_id: str | None
    roles: frozenset[str]
    scopes: frozenset[str]
    amr: tuple[str, ...] = ()
    mfa_time: datetime | None = None
    claims: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def is_platform(self) -> bool:
        return bool(self.roles & PLATFORM_ROLES)

    @property
    def grant_id(self) -> str | None:
        """The break-glass grant a support user acts under, if any (read-only, one tenant)."""
        grant = self.claims.get(break_glass.GRANT_CLAIM)
        return str(grant) if grant else None

    def has_any_role(self, roles: Iterable[str]) -> bool:
        return bool(self.roles & set(roles))

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any]) -> Principal:
        mfa_time = claims.get("mfa_time")
        return cls(
            subject=str(claims["sub"]),
            kind=str(claims.get("typ", "client")),
            tenant_id=claims.get("tid"),
            roles=frozenset(claims.get("roles", [])),
            scopes=frozenset(str(claims.get("scope", "")).split()),
            amr=tuple(claims.get("amr", [])),
            mfa_time=datetime.fromtimestamp(mfa_time, UTC) if mfa_time else None,
            claims=dict(claims),
        )


def unauthorized(detail: str, code: str = "INVALID_TOKEN") -> ProblemError:
    return ProblemError(401, code, detail, headers={"WWW-Authenticate": 'Bearer realm="mtd-vat"'})


class KeySource(Protocol):
    async def key(self, kid: str) -> Any | None:
        """The public key for `kid`, or None when it is unknown."""


def public_key_from_jwk(jwk: Mapping[str, Any]) -> Any:
    text = json.dumps(dict(jwk))
    if jwk.get("kty") == "OKP":
        return OKPAlgorithm.from_jwk(text)
    if jwk.get("kty") == "RSA":
        return RSAAlgorithm.from_jwk(text)
    raise ValueError(f"unsupported key type {jwk.get('kty')!r}")


class StaticKeySource:
    """Keys known in-process (the auth service verifies its own tokens this way)."""

    def __init__(self, keys: Callable[[], Mapping[str, Any]]) -> None:
        self._keys = keys

    async def key(self, kid: str) -> Any | None:
        return self._keys().get(kid)


class JwksKeySource:
    """Public keys fetched from a JWKS URL, cached for `ttl` seconds; an unknown `kid`
    refetches at most once per `min_refresh_interval` seconds."""

    def __init__(
        self,
        url: str,
        *,
        ttl: float = 300.0,
        min_refresh_interval: float = 10.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.url = url
        self.ttl = ttl
        self.min_refresh_interval = min_refresh_interval
        self._client = client
        self._keys: dict[str, Any] = {}
        self._fetched_at = float("-inf")
        self._lock = asyncio.Lock()
        self.fetches = 0

    async def key(self, kid: str) -> Any | None:
        now = time.monotonic()
        stale = now - self._fetched_at > self.ttl
        if kid not in self._keys or stale:
            await self._refresh(force=stale)
        return self._keys.get(kid)

    async def _refresh(self, *, force: bool) -> None:
        async with self._lock:
            # Another waiter may have refreshed while this one queued for the lock.
            if not force and time.monotonic() - self._fetched_at < self.min_refresh_interval:
                return
            try:
                document = await self._fetch()
            except (httpx.HTTPError, ValueError) as exc:
                # Keep serving cached keys when the JWKS is briefly unreachable.
                log.warning("jwks fetch failed", url=self.url, error=str(exc))
                self._fetched_at = time.monotonic() - self.ttl + self.min_refresh_interval
                return
            keys: dict[str, Any] = {}
            for jwk in document.get("keys", []):
                try:
                    keys[str(jwk["kid"])] = public_key_from_jwk(jwk)
                except (KeyError, ValueError) as exc:
                    log.warning("jwks entry ignored", kid=jwk.get("kid"), error=str(exc))
            self._keys = keys
            self._fetched_at = time.monotonic()
            self.fetches += 1

    async def _fetch(self) -> dict[str, Any]:
        if self._client is not None:
            response = await self._client.get(self.url)
        else:
            async with httpx.AsyncClient(timeout=5.0) as client:
                response = await client.get(self.url)
        response.raise_for_status()
        document = response.json()
        if not isinstance(document, dict):
            raise ValueError("JWKS is not a JSON object")
        return document


class TokenVerifier:
    def __init__(
        self,
        keys: KeySource,
        *,
        issuer: str,
        audience: str,
        leeway: float = 30.0,
        grant_checker: break_glass.GrantChecker | None = None,
    ) -> None:
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway
        # Where break-glass uses are checked and recorded; without one they are refused.
        self.grant_checker = grant_checker

    async def verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise unauthorized("The access token is malformed.") from None
        kid, alg = header.get("kid"), header.get("alg")
        if not isinstance(kid, str) or alg not in ALGORITHMS:
            raise unauthorized("The access token has no key id or an unsupported algorithm.")
        key = await self.keys.key(kid)
        if key is None:
            raise unauthorized("The access token was signed with an unknown key.")
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=[alg],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise unauthorized("The access token has expired.", "TOKEN_EXPIRED") from None
        except jwt.PyJWTError:
            raise unauthorized("The access token is not valid.") from None
        return Principal.from_claims(claims)


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorized("An `Authorization: Bearer` access token is required.", "NO_TOKEN")
    return token.strip()


async def authenticated(request: Request) -> Principal:
    """FastAPI dependency: the verified caller. The app sets `state.token_verifier`."""
    cached = getattr(request.state, "principal", None)
    if isinstance(cached, Principal):
        return cached
    verifier: TokenVerifier = request.app.state.token_verifier
    token = bearer_token(request)
    principal = await verifier.verify(token)
    if principal.grant_id is not None:
        await break_glass.enforce(
            principal, token, request.method, request.url.path, verifier.grant_checker
        )
    request.state.principal = principal
    limiter = getattr(request.app.state, "rate_limiter", None)
    if limiter is not None and "platform_service" not in principal.roles:
        limiter.check(principal.subject)  # 429 RATE_LIMITED for a runaway client
    # Every later log line of this request names the tenant (the request's task context).
    structlog.contextvars.bind_contextvars(tenant=principal.tenant_id or "platform")
    return principal


def forbidden(detail: str) -> ProblemError:
    return ProblemError(403, "FORBIDDEN", detail)


def require_roles(*roles: str) -> Callable[[Request], Awaitable[Principal]]:
    """Dependency: the caller must hold at least one of `roles`."""
    allowed = frozenset(roles)

    async def dependency(request: Request) -> Principal:
        principal = await authenticated(request)
        if not principal.roles & allowed:
            raise forbidden(f"This needs one of the roles: {', '.join(sorted(allowed))}.")
        return principal

    return dependency


def require_scopes(*scopes: str) -> Callable[[Request], Awaitable[Principal]]:
    """Dependency: the caller's token must carry every one of `scopes`."""
    needed = frozenset(scopes)

    async def dependency(request: Request) -> Principal:
        principal = await authenticated(request)
        missing = needed - principal.scopes
        if missing:
            raise forbidden(f"The access token lacks the scopes: {', '.join(sorted(missing))}.")
        return principal

    return dependency


def jwks_verifier(settings: Any, service: str) -> TokenVerifier | None:
    """A verifier for tokens issued by the auth service at `settings.auth_url`; `service`
    names this service in the break-glass uses it records there."""
    if not settings.auth_url:
        return None
    return TokenVerifier(
        JwksKeySource(f"{settings.auth_url.rstrip('/')}/v1/auth/jwks.json"),
        issuer=settings.token_issuer,
        audience=settings.token_audience,
        grant_checker=break_glass.HttpGrantChecker(settings.auth_url, service),
    )
