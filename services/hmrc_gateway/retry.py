"""When to try a GET again and how long to wait: exponential backoff with full jitter,
never sooner than HMRC's `Retry-After`. A POST is never repeated here (see outcomes)."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a `Retry-After` header (delta-seconds or an HTTP date); None if absent
    or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def full_jitter(attempt: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """AWS's "full jitter": uniform in [0, min(cap, base * 2**attempt)] — retries from many
    callers spread out instead of arriving together."""
    ceiling = min(cap, base * (2 ** max(0, attempt - 1)))
    return (rng or random).uniform(0, ceiling)


def delay_before_retry(attempt: int, base: float, cap: float, retry_after: float | None) -> float:
    """The wait before attempt `attempt + 1`; Retry-After is a floor, not a suggestion."""
    jittered = full_jitter(attempt, base, cap)
    return max(jittered, retry_after) if retry_after is not None else jittered
