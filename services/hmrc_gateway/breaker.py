"""A circuit breaker per HMRC endpoint group.

Closed: calls flow; `failure_threshold` consecutive failures (5xx, time-outs, resets) open
it. Open: calls are refused at once (the caller gets 503 with Retry-After) for
`open_seconds`. Half-open: one probe call goes through; success closes the breaker, failure
opens it again. Each replica keeps its own breakers: a replica that sees HMRC failing stops
adding load without waiting for the others.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from prometheus_client import Counter, Gauge

BREAKER_STATE = Gauge(
    "hmrc_gateway_breaker_state",
    "Circuit breaker state per HMRC endpoint group (0 closed, 1 half-open, 2 open).",
    ["group"],
)
BREAKER_TRANSITIONS = Counter(
    "hmrc_gateway_breaker_transitions",
    "Circuit breaker state changes.",
    ["group", "to"],
)


class State(Enum):
    CLOSED = "closed"
    HALF_OPEN = "half_open"
    OPEN = "open"


_GAUGE = {State.CLOSED: 0, State.HALF_OPEN: 1, State.OPEN: 2}


class BreakerOpen(Exception):
    def __init__(self, group: str, retry_after: float) -> None:
        super().__init__(f"circuit for {group} is open")
        self.group = group
        self.retry_after = retry_after


@dataclass
class Breaker:
    group: str
    failure_threshold: int = 5
    open_seconds: float = 30.0
    clock: Callable[[], float] = time.monotonic
    state: State = State.CLOSED
    failures: int = 0
    opened_at: float = 0.0
    probing: bool = False

    def __post_init__(self) -> None:
        BREAKER_STATE.labels(self.group).set(0)

    def _move(self, state: State) -> None:
        if state is not self.state:
            self.state = state
            BREAKER_STATE.labels(self.group).set(_GAUGE[state])
            BREAKER_TRANSITIONS.labels(self.group, state.value).inc()

    def current(self) -> State:
        if self.state is State.OPEN and self.clock() - self.opened_at >= self.open_seconds:
            self._move(State.HALF_OPEN)
            self.probing = False
        return self.state

    def retry_after(self) -> float:
        return max(0.0, self.open_seconds - (self.clock() - self.opened_at))

    def before_call(self) -> None:
        """Raise `BreakerOpen` unless this call may go to HMRC."""
        state = self.current()
        if state is State.OPEN:
            raise BreakerOpen(self.group, self.retry_after())
        if state is State.HALF_OPEN:
            if self.probing:  # one probe at a time
                raise BreakerOpen(self.group, 1.0)
            self.probing = True

    def success(self) -> None:
        self.failures = 0
        self.probing = False
        self._move(State.CLOSED)

    def failure(self) -> None:
        self.failures += 1
        if self.state is State.HALF_OPEN or self.failures >= self.failure_threshold:
            self.opened_at = self.clock()
            self.probing = False
            self._move(State.OPEN)

    def release(self) -> None:
        """The call ended without telling us about HMRC's health (e.g. a 4xx): a probe slot
        is given back."""
        self.probing = False
        if self.state is State.HALF_OPEN:
            self.success()

    def describe(self) -> dict[str, object]:
        state = self.current()
        out: dict[str, object] = {"state": state.value, "consecutive_failures": self.failures}
        if state is State.OPEN:
            out["retry_after_seconds"] = round(self.retry_after(), 1)
        return out


class Breakers:
    def __init__(self, groups: list[str], failure_threshold: int, open_seconds: float) -> None:
        self.by_group = {g: Breaker(g, failure_threshold, open_seconds) for g in groups}

    def __getitem__(self, group: str) -> Breaker:
        return self.by_group[group]

    def describe(self) -> dict[str, dict[str, object]]:
        return {g: b.describe() for g, b in self.by_group.items()}
