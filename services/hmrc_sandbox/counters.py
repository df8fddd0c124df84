"""Counters that tests, load tests and drills read through the control API."""

from __future__ import annotations

from collections import Counter
from typing import Any


class Counters:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.requests: Counter[tuple[str, str]] = Counter()  # (endpoint, client_id)
        self.statuses: Counter[tuple[str, int]] = Counter()  # (endpoint, status)
        self.throttled: Counter[str] = Counter()  # 429s sent, by client_id
        self.returns_stored: Counter[tuple[str, str]] = Counter()  # (vrn, period key)
        self.duplicates: Counter[tuple[str, str]] = Counter()
        self.faults: Counter[tuple[str, str]] = Counter()  # (endpoint, kind of fault)

    def request(self, endpoint: str, client_id: str | None, status: int) -> None:
        self.requests[(endpoint, client_id or "-")] += 1
        self.statuses[(endpoint, status)] += 1

    def snapshot(self, peak_rates: dict[str, int]) -> dict[str, Any]:
        def nested(counter: Counter[tuple[Any, Any]]) -> dict[str, dict[str, int]]:
            out: dict[str, dict[str, int]] = {}
            for (outer, inner), count in sorted(counter.items(), key=lambda kv: str(kv[0])):
                out.setdefault(str(outer), {})[str(inner)] = count
            return out

        return {
            "requests": nested(self.requests),
            "statuses": nested(self.statuses),
            "throttled": dict(self.throttled),
            "throttledTotal": sum(self.throttled.values()),
            "returnsStored": nested(self.returns_stored),
            "returnsStoredTotal": sum(self.returns_stored.values()),
            "duplicateSubmissions": nested(self.duplicates),
            "duplicateSubmissionsTotal": sum(self.duplicates.values()),
            "faults": nested(self.faults),
            "peakRequestsPerSecond": dict(peak_rates),
        }
