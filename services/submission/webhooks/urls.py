"""Which URLs a webhook may point at.

In production only `https` to a public host: a delivery is a request this platform makes
from inside its network, so a private, loopback or link-local address (or `localhost`) is
refused at registration. Development and test allow `http` and loopback so a receiver on
the same machine works. Names are not resolved at registration (DNS can change later);
in production the sender resolves the name before each attempt and refuses a private
answer, and it never follows redirects.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from services.common.errors import ProblemError

MAX_LENGTH = 2048


def invalid(detail: str) -> ProblemError:
    return ProblemError(
        422,
        "WEBHOOK_URL_INVALID",
        detail,
        action="Register an absolute https URL of a public host, without credentials.",
    )


def check(url: str, *, production: bool) -> str:
    """The URL, or a 422 problem saying what is wrong with it."""
    if not url or len(url) > MAX_LENGTH:
        raise invalid(f"The URL must be 1-{MAX_LENGTH} characters.")
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise invalid("The URL must not contain spaces or control characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise invalid("The URL cannot be parsed.") from None
    allowed = ("https",) if production else ("https", "http")
    if parts.scheme not in allowed:
        raise invalid(f"The URL's scheme must be {' or '.join(allowed)}.")
    host = parts.hostname
    if not host:
        raise invalid("The URL has no host.")
    if parts.username is not None or parts.password is not None:
        raise invalid("The URL must not carry credentials; the signature authenticates us.")
    if parts.fragment:
        raise invalid("The URL must not have a fragment.")
    if port == 0:
        raise invalid("The URL's port is not valid.")
    if production and _internal(host):
        raise invalid("The URL points at a private, loopback or link-local address.")
    return url


def _internal(host: str) -> bool:
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return not address.is_global


async def resolves_internal(url: str) -> str | None:
    """Why a delivery to `url` must not be made now (a name that resolves to a private,
    loopback or link-local address), or None."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if _internal(host):
        return "refused: the URL names an internal host"
    try:
        answers = await asyncio.get_running_loop().getaddrinfo(
            host, parts.port or 443, type=socket.SOCK_STREAM
        )
    except OSError as exc:
        return f"the name does not resolve ({exc.strerror or exc})"
    for *_, address in answers:
        if not ipaddress.ip_address(str(address[0]).split("%")[0]).is_global:
            return "refused: the name resolves to a private address"
    return None
