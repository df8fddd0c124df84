"""PostgreSQL's `archive_command` and `restore_command`: seal each WAL file into the archive
and open it again during recovery.

    archive_command = '<python> -m services.backup.wal push --archive DIR --key-file F %p %f'
    restore_command = '<python> -m services.backup.wal fetch --archive DIR --key-file F %f %p'

Each file `NAME` is stored as `NAME.enc` (sealed) with `NAME.json` beside it (SHA-256 of the
sealed bytes and of the plaintext): the archive's own catalog, written by the server's
user without contending for catalog.json. Both are written to a temporary name, fsynced and
renamed, so PostgreSQL is told "archived" only for a file that is on disk in full.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shlex
import sys
import threading
import time
from pathlib import Path

from services.backup.crypto import (
    IntegrityError,
    SealingWriter,
    WrongKeyError,
    file_sha256,
    open_frames,
)
from services.backup.keys import BackupKeyError, read_key_file

FETCH_FAILED = 126


def command(action: str, archive: Path, key_file: Path) -> str:
    """The command line PostgreSQL runs (via sh) for `push` or `fetch`, where the server's
    user may run this interpreter (a container image: one user, one Python)."""
    files = "%p %f" if action == "push" else "%f %p"
    return (
        f"PYTHONDONTWRITEBYTECODE=1 {shlex.quote(sys.executable)} -m services.backup.wal "
        f"{action} --archive {shlex.quote(str(archive))} "
        f"--key-file {shlex.quote(str(key_file))} {files}"
    )


def spool_command(spool: Path) -> str:
    """archive_command for a server whose user may not run our Python (the embedded server
    runs as a system user that cannot read a root-owned interpreter): copy each file into a
    spool, atomically, and let `Agent` seal it into the archive."""
    where = shlex.quote(str(spool))
    return f"test ! -f {where}/%f && cp %p {where}/%f.tmp && mv {where}/%f.tmp {where}/%f"


def staged_restore_command(staged: Path) -> str:
    """restore_command over files `stage` opened beforehand; a missing one ends recovery."""
    return f"cp {shlex.quote(str(staged))}/%f %p"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomic(path: Path, write: object) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as out:
        write(out)  # type: ignore[operator]
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)


def push(source: Path, name: str, archive: Path, key: bytes) -> None:
    sealed, index = archive / f"{name}.enc", archive / f"{name}.json"
    plain = hashlib.sha256(source.read_bytes()).hexdigest()
    if sealed.exists() and index.exists():
        # PostgreSQL may retry a file it archived before; the same content is success.
        if json.loads(index.read_text())["plain_sha256"] == plain:
            return
        raise FileExistsError(f"{name} is archived already with other content")
    stats: dict[str, object] = {}

    def write_sealed(out: object) -> None:
        writer = SealingWriter(key, out)  # type: ignore[arg-type]
        with open(source, "rb") as src:
            while block := src.read(1 << 20):
                writer.write(block)
        stats["sha256"] = writer.close()
        stats["bytes"] = writer.size

    _write_atomic(sealed, write_sealed)
    entry = {"name": name, "plain_sha256": plain, **stats}
    _write_atomic(index, lambda out: out.write(json.dumps(entry).encode()))
    _fsync_dir(archive)


def fetch(name: str, target: Path, archive: Path, key: bytes) -> bool:
    """Restore one WAL file; False when the archive does not have it (end of recovery)."""
    sealed, index = archive / f"{name}.enc", archive / f"{name}.json"
    if not (sealed.exists() and index.exists()):
        return False
    entry = json.loads(index.read_text())
    if file_sha256(sealed) != entry["sha256"]:
        raise IntegrityError(f"archived WAL {name} fails its SHA-256 checksum")
    tmp = target.with_name(target.name + ".tmp")
    digest = hashlib.sha256()
    with open(sealed, "rb") as src, open(tmp, "wb") as out:
        for chunk in open_frames(key, src):
            digest.update(chunk)
            out.write(chunk)
    if digest.hexdigest() != entry["plain_sha256"]:
        tmp.unlink()
        raise IntegrityError(f"archived WAL {name} does not open to what was archived")
    os.replace(tmp, target)
    return True


def drain(spool: Path, archive: Path, key: bytes) -> list[str]:
    """Seal every complete file in the spool into the archive; returns their names."""
    done = []
    for path in sorted(spool.iterdir()):
        if path.name.endswith(".tmp"):
            continue
        push(path, path.name, archive, key)
        path.unlink()
        done.append(path.name)
    return done


class Agent(threading.Thread):
    """Seals spooled WAL into the archive until stopped (then drains once more)."""

    def __init__(self, spool: Path, archive: Path, key: bytes, interval: float = 0.2) -> None:
        super().__init__(name="wal-agent", daemon=True)
        self.spool, self.archive, self.key, self.interval = spool, archive, key, interval
        self.stopping = threading.Event()
        self.sealed = 0
        self.error: Exception | None = None

    def run(self) -> None:
        self.archive.mkdir(parents=True, exist_ok=True, mode=0o700)
        while True:
            stop = self.stopping.is_set()
            try:
                if self.spool.exists():  # it goes away with a destroyed server
                    self.sealed += len(drain(self.spool, self.archive, self.key))
            except Exception as exc:  # keep the first failure for the caller to report
                self.error = self.error or exc
            if stop:
                return
            time.sleep(self.interval)

    def stop(self) -> None:
        self.stopping.set()
        self.join()


def segment(name: str) -> str:
    """The position part of a WAL file name (timeline stripped)."""
    return name[8:24]


def stage(archive: Path, key: bytes, staged: Path, start_wal: str | None) -> int:
    """Open every archived file recovery may ask for (history files, and WAL from the base
    backup's start on) into `staged`; returns how many."""
    count = 0
    for index in sorted(archive.glob("*.json")):
        name = index.name.removesuffix(".json")
        wanted = name.endswith(".history") or (
            len(name) == 24 and (start_wal is None or segment(name) >= segment(start_wal))
        )
        if wanted and fetch(name, staged / name, archive, key):
            count += 1
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.backup.wal")
    parser.add_argument("action", choices=("push", "fetch"))
    parser.add_argument("--archive", type=Path, required=True)
    parser.add_argument("--key-file", type=Path, required=True)
    parser.add_argument("first")
    parser.add_argument("second")
    args = parser.parse_args(argv)
    try:
        key = read_key_file(args.key_file)
        if args.action == "push":
            push(Path(args.first), args.second, args.archive, key)
            return 0
        return 0 if fetch(args.first, Path(args.second), args.archive, key) else 1
    except (OSError, IntegrityError, WrongKeyError, BackupKeyError) as exc:
        # PostgreSQL logs our stderr. A failed push is retried. A failed fetch exits above
        # 125, which aborts recovery: a plain non-zero would read as "end of the archive"
        # and silently promote a server that is missing everything after a forged file.
        sys.stderr.write(f"services.backup.wal {args.action}: {exc}\n")
        return FETCH_FAILED if args.action == "fetch" else 1


if __name__ == "__main__":
    raise SystemExit(main())
