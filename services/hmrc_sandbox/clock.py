"""Time and identifiers, both controllable: a fixed or shifted clock and a seeded generator
make a run reproducible (the golden dataset), while the default is wall time and OS entropy.
"""

from __future__ import annotations

import random
import string
import uuid
from datetime import UTC, date, datetime, timedelta


class Clock:
    """UTC now, optionally frozen at `fixed` and/or shifted by `offset`."""

    def __init__(self, fixed: datetime | None = None) -> None:
        self.fixed = fixed
        self.offset = timedelta()

    def now(self) -> datetime:
        base = self.fixed if self.fixed is not None else datetime.now(UTC)
        return (base + self.offset).astimezone(UTC)

    def today(self) -> date:
        return self.now().date()

    def set(self, fixed: datetime | None, offset: timedelta = timedelta()) -> None:
        self.fixed = fixed
        self.offset = offset

    def advance(self, by: timedelta) -> None:
        self.offset += by

    def describe(self) -> dict[str, str | float | None]:
        return {
            "now": self.now().isoformat(),
            "fixed": self.fixed.isoformat() if self.fixed else None,
            "offsetSeconds": self.offset.total_seconds(),
        }


_ALNUM = string.ascii_letters + string.digits
_LOWER = string.ascii_lowercase


class Ids:
    """Every generated identifier comes from here; seeded means reproducible (and guessable,
    which is fine for a simulator's deterministic mode)."""

    def __init__(self, seed: int | None = None) -> None:
        self.reseed(seed)

    def reseed(self, seed: int | None) -> None:
        self.seed = seed
        # Deterministic mode needs a seedable generator; otherwise use the OS's entropy.
        self._rng: random.Random = (
            random.Random(seed) if seed is not None else random.SystemRandom()  # noqa: S311
        )

    def uuid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def digits(self, length: int) -> str:
        return "".join(self._rng.choice(string.digits) for _ in range(length))

    def alnum(self, length: int) -> str:
        return "".join(self._rng.choice(_ALNUM) for _ in range(length))

    def lower(self, length: int) -> str:
        return "".join(self._rng.choice(_LOWER) for _ in range(length))

    def choice(self, options: list[str]) -> str:
        return self._rng.choice(options)

    def uniform(self, low: float, high: float) -> float:
        return self._rng.uniform(low, high)

    def chance(self, probability: float) -> bool:
        return probability > 0 and self._rng.random() < probability
