"""The backup catalog: `catalog.json` in the backup directory, one entry per backup.

Written whole to a temporary file and renamed (a reader never sees half a catalog), under
an exclusive lock so two backups finishing together do not lose an entry.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

Kind = Literal["base", "logical"]
CATALOG = "catalog.json"


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def parse_time(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone; give one (e.g. +00:00 or Z)")
    return value.astimezone(UTC)


@dataclass
class Artefact:
    name: str  # path relative to the backup directory
    sha256: str  # of the sealed bytes as stored
    bytes: int
    plain_bytes: int
    database: str | None = None


@dataclass
class Backup:
    id: str
    kind: Kind
    started_at: str
    finished_at: str
    key_id: str
    server_version: str
    artefacts: list[Artefact] = field(default_factory=list)
    # For base backups: the instant after which the backup alone is consistent.
    consistent_at: str | None = None
    # For base backups: the first WAL file a restore replays from the archive.
    start_wal: str | None = None

    @staticmethod
    def from_json(data: dict[str, Any]) -> Backup:
        artefacts = [Artefact(**a) for a in data.pop("artefacts", [])]
        return Backup(**data, artefacts=artefacts)


class Catalog:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.path = root / CATALOG

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / "catalog.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def backups(self) -> list[Backup]:
        if not self.path.exists():
            return []
        data = json.loads(self.path.read_text())
        return [Backup.from_json(b) for b in data["backups"]]

    def add(self, backup: Backup) -> None:
        with self._locked():
            entries = [asdict(b) for b in self.backups()] + [asdict(backup)]
            tmp = self.path.with_suffix(".tmp")
            with open(tmp, "w") as out:
                json.dump({"version": 1, "backups": entries}, out, indent=2)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)

    def get(self, backup_id: str) -> Backup:
        for backup in self.backups():
            if backup.id == backup_id:
                return backup
        raise LookupError(f"no backup {backup_id} in {self.path}")

    def latest(self, kind: Kind, *, before: datetime | None = None) -> Backup:
        """The newest backup of `kind` (consistent no later than `before`, when given)."""
        found = [b for b in self.backups() if b.kind == kind]
        if before is not None:
            found = [b for b in found if parse_time(b.consistent_at or b.finished_at) <= before]
        if not found:
            when = f" consistent before {iso(before)}" if before else ""
            raise LookupError(f"no {kind} backup{when} in {self.path}")
        return max(found, key=lambda b: b.finished_at)
