"""The submission state machine: which moves are legal, and which states are final.

received → queued → submitting → accepted | rejected | uncertain
uncertain → reconciling → accepted | rejected | queued (HMRC confirmed it never arrived)
submitting → queued (a retryable failure before HMRC could have processed it: 429, breaker
open, governor timeout)
"""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    RECEIVED = "received"
    QUEUED = "queued"
    SUBMITTING = "submitting"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    UNCERTAIN = "uncertain"
    RECONCILING = "reconciling"


ALLOWED: dict[State, frozenset[State]] = {
    State.RECEIVED: frozenset({State.QUEUED, State.REJECTED}),
    State.QUEUED: frozenset({State.SUBMITTING}),
    State.SUBMITTING: frozenset(
        {State.ACCEPTED, State.REJECTED, State.UNCERTAIN, State.QUEUED, State.RECONCILING}
    ),
    State.UNCERTAIN: frozenset({State.RECONCILING}),
    State.RECONCILING: frozenset({State.ACCEPTED, State.REJECTED, State.QUEUED, State.RECONCILING}),
    State.ACCEPTED: frozenset(),
    State.REJECTED: frozenset(),
}

FINAL = frozenset({State.ACCEPTED, State.REJECTED})


class IllegalTransition(Exception):
    def __init__(self, current: State, target: State) -> None:
        super().__init__(f"cannot move a submission from {current} to {target}")
        self.current = current
        self.target = target


def check(current: State, target: State) -> None:
    if target not in ALLOWED[current]:
        raise IllegalTransition(current, target)
