"""Signatures on webhook deliveries, and their check as a receiver does it.

Header `Mtd-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`.
The timestamp is signed with the body so a captured delivery cannot be replayed later: a
receiver refuses a `t` older than its tolerance (five minutes is usual). Each retry is signed
afresh with its own time.
"""

from __future__ import annotations

import hashlib
import hmac
import time

HEADER = "Mtd-Signature"
SCHEME = "v1"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def header_value(secret: str, body: bytes, timestamp: int | None = None) -> str:
    at = int(time.time()) if timestamp is None else timestamp
    return f"t={at},{SCHEME}={signature(secret, at, body)}"


def verify(
    secret: str, header: str, body: bytes, *, tolerance_s: int = 300, now: float | None = None
) -> bool:
    """True when `header` signs `body` with `secret` and is no older than `tolerance_s`."""
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        name, sep, value = item.strip().partition("=")
        if sep:
            parts.setdefault(name, []).append(value)
    try:
        at = int(parts["t"][0])
    except (KeyError, ValueError):
        return False
    current = time.time() if now is None else now
    if abs(current - at) > tolerance_s:
        return False
    expected = signature(secret, at, body)
    return any(hmac.compare_digest(expected, given) for given in parts.get(SCHEME, []))
