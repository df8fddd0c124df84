"""What a drill's probes and actions share: the stack, its settings and the running load.

chaostoolkit calls the python providers in this process, so the runner sets the current
drill context here before running an experiment.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from chaos.drills.load import Load
from services.stack.launcher import Stack


@dataclass
class DrillContext:
    stack: Stack
    env: dict[str, str]
    load: Load
    # Steady state: the oldest waiting return is younger than this.
    max_queue_age: float = 20.0
    # A pending return older than this counts as lost in the integrity check.
    stuck_after: float = 180.0
    fault_started: float | None = None
    fault_ended: float | None = None
    notes: dict[str, Any] = field(default_factory=dict)

    def fault_begins(self) -> None:
        self.fault_started, self.fault_ended = time.monotonic(), None

    def fault_ends(self) -> None:
        self.fault_ended = time.monotonic()


_current: DrillContext | None = None


def set_current(ctx: DrillContext | None) -> None:
    global _current
    _current = ctx


def current() -> DrillContext:
    if _current is None:
        raise RuntimeError("no drill is running: use python -m chaos.drills")
    return _current
