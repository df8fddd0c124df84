"""Break-glass tokens: support staff reading one tenant's data under a grant its admin
approved. Every service enforces the same rules when a token carries a grant id:

- read-only: any method but GET/HEAD/OPTIONS is refused (403 `BREAK_GLASS_READ_ONLY`);
- every request, refused writes included, is first recorded at auth, which checks the
  grant is still approved and unexpired and answers 403 `BREAK_GLASS_REVOKED` /
  `BREAK_GLASS_EXPIRED` otherwise. Recording and checking are one call, so a revocation
  stops the next request and no request goes unaudited (decision 0075).

Auth records uses in-process; other services call `POST /internal/v1/break-glass/uses`
with the break-glass token itself as the credential.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Protocol

import httpx
import structlog

from services.common.errors import ProblemError
from services.common.security.service_token import auth_unavailable

if TYPE_CHECKING:
    from services.common.security.jwt_verify import Principal

# The access-token claim that names the grant; only auth's break-glass tokens carry it.
GRANT_CLAIM = "bg"
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
USES_PATH = "/internal/v1/break-glass/uses"
# Problem codes auth answers with that a service passes on to the caller unchanged.
REFUSALS = frozenset(
    {
        "BREAK_GLASS_EXPIRED",
        "BREAK_GLASS_REVOKED",
        "BREAK_GLASS_NOT_APPROVED",
        "INVALID_TOKEN",
        "TOKEN_EXPIRED",
    }
)


@dataclass(frozen=True)
class Use:
    """One request made with a break-glass token."""

    service: str
    method: str
    path: str
    request_id: str | None
    refused: bool  # a write, refused as read-only


class GrantChecker(Protocol):
    service: str  # the service that records the use

    async def record_use(self, principal: Principal, token: str, use: Use) -> None:
        """Record `use`; raise a ProblemError when the grant no longer allows access."""


class HttpGrantChecker:
    """Records uses at the auth service (services other than auth)."""

    def __init__(self, auth_url: str, service: str, *, timeout: float = 5.0) -> None:
        self.url = auth_url.rstrip("/") + USES_PATH
        self.service = service
        self.timeout = timeout

    async def record_use(self, principal: Principal, token: str, use: Use) -> None:
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                r = await client.post(
                    self.url, json=asdict(use), headers={"Authorization": f"Bearer {token}"}
                )
        except httpx.HTTPError as exc:
            # Fail closed: an unrecorded use is not allowed.
            raise auth_unavailable(
                f"Break-glass access cannot be checked ({type(exc).__name__})."
            ) from exc
        if r.status_code < 300:
            return
        problem = _problem(r)
        if r.status_code in (401, 403) and problem.get("code") in REFUSALS:
            raise ProblemError(r.status_code, str(problem["code"]), str(problem.get("detail", "")))
        raise auth_unavailable(f"Break-glass access cannot be checked ({r.status_code}).")


def _problem(response: httpx.Response) -> dict[str, object]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def read_only() -> ProblemError:
    return ProblemError(
        403, "BREAK_GLASS_READ_ONLY", "Break-glass access is read-only; this request changes data."
    )


async def enforce(
    principal: Principal,
    token: str,
    method: str,
    path: str,
    checker: GrantChecker | None,
) -> None:
    """Record this request under its grant, then refuse it unless it only reads."""
    if checker is None:
        raise ProblemError(403, "FORBIDDEN", "This service accepts no break-glass tokens.")
    refused = method.upper() not in READ_METHODS
    request_id = structlog.contextvars.get_contextvars().get("request_id")
    use = Use(checker.service, method.upper(), path, request_id, refused)
    await checker.record_use(principal, token, use)
    if refused:
        raise read_only()
