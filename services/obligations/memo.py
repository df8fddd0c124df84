"""A tiny in-process memo with a time to live: it spares PostgreSQL the same hot read many
times a second. Kept short (about a second) because other replicas write behind its back."""

from __future__ import annotations

import time
from typing import Generic, TypeVar

T = TypeVar("T")


class Memo(Generic[T]):
    def __init__(self, ttl: float, max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._items: dict[str, tuple[float, T]] = {}

    def get(self, key: str) -> tuple[bool, T | None]:
        item = self._items.get(key)
        if item is None or time.monotonic() >= item[0]:
            return False, None
        return True, item[1]

    def put(self, key: str, value: T) -> None:
        if self.ttl <= 0:
            return
        if len(self._items) >= self.max_entries:
            now = time.monotonic()
            self._items = {k: v for k, v in self._items.items() if v[0] > now}
            if len(self._items) >= self.max_entries:
                self._items.clear()
        self._items[key] = (time.monotonic() + self.ttl, value)

    def drop(self, key: str) -> None:
        self._items.pop(key, None)
