"""How fresh an answer is, said the same way in the body and in headers.

`source` is `cache` or `hmrc`; `stale` is true only when HMRC could not be asked and the last
known answer is served instead — `stale_reason` then carries the gateway's code."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

Source = Literal["cache", "hmrc"]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Answer:
    body: dict[str, Any]
    fetched_at: datetime
    source: Source
    stale_reason: str | None = None

    @property
    def stale(self) -> bool:
        return self.stale_reason is not None

    def age_seconds(self, now: datetime | None = None) -> int:
        return max(0, int(((now or utcnow()) - self.fetched_at).total_seconds()))

    def is_fresh(self, ttl: float, now: datetime | None = None) -> bool:
        return ((now or utcnow()) - self.fetched_at).total_seconds() <= ttl


def cache_status(answer: Answer) -> str:
    if answer.stale:
        return "stale"
    return "hit" if answer.source == "cache" else "miss"


def describe(answer: Answer, ttl: float, now: datetime | None = None) -> dict[str, Any]:
    """The `freshness` object every read returns."""
    return {
        "source": answer.source,
        "fetched_at": answer.fetched_at.isoformat(),
        "age_seconds": answer.age_seconds(now),
        "max_age_seconds": int(ttl),
        "stale": answer.stale,
        "stale_reason": answer.stale_reason,
    }


def headers(answer: Answer, ttl: float, now: datetime | None = None) -> dict[str, str]:
    age = answer.age_seconds(now)
    out = {
        "Age": str(age),
        "X-Cache-Status": cache_status(answer),
        # Per tenant: shared caches must not keep it; clients may reuse it while fresh.
        "Cache-Control": f"private, max-age={0 if answer.stale else max(0, int(ttl) - age)}",
    }
    if answer.stale_reason:
        out["X-Stale-Reason"] = answer.stale_reason
    return out
