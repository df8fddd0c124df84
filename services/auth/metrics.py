"""The auth service's own metrics (registered in deploy/telemetry/registry.yaml): refused
sign-ins, accounts created and HMRC connection flows.

The hooks sit where the outcome is decided, as decorators and one call in the throttle
(which every secret check already goes through), so the business code stays as it was.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from prometheus_client import Counter

from services.common.errors import ProblemError
from services.common.security.jwt_verify import Principal, TokenVerifier

P = ParamSpec("P")
R = TypeVar("R")

AUTH_FAILURES = Counter(
    "auth_failures",
    "Refused authentication attempts, by kind.",
    ["kind"],
)
SIGNUPS = Counter("auth_signups", "Accounts created, by kind.", ["kind"])
HMRC_AUTHORISATIONS = Counter(
    "auth_hmrc_authorisations",
    "HMRC connection flows finished, by outcome (granted, denied, failed).",
    ["outcome"],
)

# Throttle keys are `<prefix>:<identity>`; the prefix says which secret was wrong.
_THROTTLE_KINDS = {"client": "client_credentials", "password": "password", "mfa": "totp"}
# Callback refusals that mean the redirect itself was not ours (state or code).
_BAD_CALLBACK = frozenset(
    {"OAUTH_STATE_INVALID", "OAUTH_STATE_REPLAYED", "OAUTH_STATE_EXPIRED", "OAUTH_CODE_MISSING"}
)

for _kind in (*_THROTTLE_KINDS.values(), "token", "hmrc_callback"):
    AUTH_FAILURES.labels(_kind)
for _kind in ("tenant", "api_client", "user"):
    SIGNUPS.labels(_kind)
for _outcome in ("granted", "denied", "failed"):
    HMRC_AUTHORISATIONS.labels(_outcome)


def throttled_failure(key: str) -> None:
    kind = _THROTTLE_KINDS.get(key.split(":", 1)[0])
    if kind is not None:
        AUTH_FAILURES.labels(kind).inc()


def counts_signup(kind: str) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
    """Count an account of `kind` each time the decorated creation returns."""

    def decorate(create: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        @functools.wraps(create)
        async def counted(*args: P.args, **kwargs: P.kwargs) -> R:
            result = await create(*args, **kwargs)
            SIGNUPS.labels(kind).inc()
            return result

        return counted

    return decorate


def counts_authorisation(complete: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Count how an HMRC callback ended: granted, denied by the user, or failed."""

    @functools.wraps(complete)
    async def counted(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            result = await complete(*args, **kwargs)
        except ProblemError as exc:
            denied = exc.code == "HMRC_CONSENT_DENIED"
            HMRC_AUTHORISATIONS.labels("denied" if denied else "failed").inc()
            if exc.code in _BAD_CALLBACK:
                AUTH_FAILURES.labels("hmrc_callback").inc()
            raise
        HMRC_AUTHORISATIONS.labels("granted").inc()
        return result

    return counted


class CountingTokenVerifier(TokenVerifier):
    """The service's own token check, counting bearer tokens it refuses."""

    async def verify(self, token: str) -> Principal:
        try:
            return await super().verify(token)
        except ProblemError:
            AUTH_FAILURES.labels("token").inc()
            raise
