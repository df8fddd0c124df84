"""Counters that tests, load tests and drills read through the control API."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any

# The timeline keeps this many seconds, so a long-lived simulator does not grow without end.
TIMELINE_SECONDS = 6 * 3600


class Counters:
    def __init__(self, wall_clock: Callable[[], float] = time.time) -> None:
        self._wall_clock = wall_clock
        self.reset()

    def reset(self) -> None:
        self.requests: Counter[tuple[str, str]] = Counter()  # (endpoint, client_id)
        self.statuses: Counter[tuple[str, int]] = Counter()  # (endpoint, status)
        self.throttled: Counter[str] = Counter()  # 429s sent, by client_id
        self.returns_stored: Counter[tuple[str, str]] = Counter()  # (vrn, period key)
        self.duplicates: Counter[tuple[str, str]] = Counter()
        self.faults: Counter[tuple[str, str]] = Counter()  # (endpoint, kind of fault)
        # Requests per wall-clock second (the simulated clock may stand still), so a load
        # test can plot HMRC's arrival rate: (client_id, "endpoint status", epoch second).
        self.timeline: Counter[tuple[str, str, int]] = Counter()
        self._pruned_at = 0

    def request(self, endpoint: str, client_id: str | None, status: int) -> None:
        self.requests[(endpoint, client_id or "-")] += 1
        self.statuses[(endpoint, status)] += 1
        second = int(self._wall_clock())
        self.timeline[(client_id or "-", f"{endpoint} {status}", second)] += 1
        if second - self._pruned_at >= 60:
            self._pruned_at = second
            for key in [k for k in self.timeline if k[2] < second - TIMELINE_SECONDS]:
                del self.timeline[key]

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

    def timeline_snapshot(self) -> dict[str, dict[str, dict[str, int]]]:
        """{client_id: {"endpoint status": {epoch second: requests}}}."""
        out: dict[str, dict[str, dict[str, int]]] = {}
        for (client_id, what, second), count in sorted(self.timeline.items()):
            out.setdefault(client_id, {}).setdefault(what, {})[str(second)] = count
        return out
