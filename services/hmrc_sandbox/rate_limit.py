"""HMRC's rate limit per application, and the request rates the simulator has seen.

Sliding one-second windows on the monotonic clock (never the simulated one): an
application may have `rate` requests admitted in any window; every request received also
counts towards the highest rate seen, which load tests read to prove the gateway kept under
the limit.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable


class RateLimiter:
    def __init__(self, now: Callable[[], float] = time.monotonic) -> None:
        self._now = now
        self._admitted: dict[str, deque[float]] = {}
        self._received: dict[str, deque[float]] = {}
        self.peak: dict[str, int] = {}

    def admit(self, client_id: str, rate: float) -> bool:
        """Record one request from `client_id`; False when it is over the limit."""
        now = self._now()
        received = self._received.setdefault(client_id, deque())
        _trim(received, now - 1.0)
        received.append(now)
        if len(received) > self.peak.get(client_id, 0):
            self.peak[client_id] = len(received)

        # `rate` requests per second; a fractional rate widens the window instead.
        capacity = max(1, math.floor(rate))
        window = capacity / rate
        admitted = self._admitted.setdefault(client_id, deque())
        _trim(admitted, now - window)
        if len(admitted) >= capacity:
            return False
        admitted.append(now)
        return True

    def reset(self) -> None:
        self._admitted.clear()
        self._received.clear()
        self.peak.clear()


def _trim(window: deque[float], older_than: float) -> None:
    while window and window[0] <= older_than:
        window.popleft()
