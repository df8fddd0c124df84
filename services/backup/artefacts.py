"""Sealing a tool's output into an artefact file, and opening an artefact after checking it
against the catalog."""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from services.backup.catalog import Artefact
from services.backup.crypto import IntegrityError, SealingWriter, file_sha256, open_frames


class ToolError(RuntimeError):
    pass


def seal_command(
    key: bytes, cmd: Sequence[str], root: Path, name: str, env: dict[str, str], **meta: str
) -> Artefact:
    """Run `cmd`, seal its stdout into `root/name`; the file appears only when complete."""
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    stderr: list[bytes] = []
    with open(tmp, "wb") as out:
        proc = subprocess.Popen(  # noqa: S603 - PostgreSQL's own tools, fixed arguments
            list(cmd), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
        )
        assert proc.stdout is not None
        assert proc.stderr is not None
        err = proc.stderr
        drain = threading.Thread(target=lambda: stderr.append(err.read()), daemon=True)
        drain.start()
        writer = SealingWriter(key, out)
        while block := proc.stdout.read(1 << 20):
            writer.write(block)
        digest = writer.close()
        out.flush()
        os.fsync(out.fileno())
        code = proc.wait()
        drain.join()
    if code != 0:
        tmp.unlink(missing_ok=True)
        message = b"".join(stderr).decode(errors="replace").strip()
        raise ToolError(f"{Path(cmd[0]).name} failed ({code}): {message}")
    os.replace(tmp, path)
    return Artefact(
        name=name,
        sha256=digest,
        bytes=writer.size,
        plain_bytes=writer.plain_size,
        database=meta.get("database"),
    )


def check(root: Path, artefact: Artefact) -> Path:
    """The artefact's path once its size and SHA-256 match the catalog."""
    path = root / artefact.name
    if not path.exists():
        raise IntegrityError(f"{artefact.name} is missing from {root}")
    if path.stat().st_size != artefact.bytes or file_sha256(path) != artefact.sha256:
        raise IntegrityError(f"{artefact.name} fails its SHA-256 checksum: altered or damaged")
    return path


def open_artefact(key: bytes, root: Path, artefact: Artefact) -> Iterator[bytes]:
    path = check(root, artefact)
    with open(path, "rb") as src:
        yield from open_frames(key, src)


class ChunkReader:
    """A read()-able view of an iterator of chunks (for tarfile's stream mode)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buffer = bytearray()

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buffer += chunk
        if size < 0:
            size = len(self._buffer)
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data


def feed_command(cmd: Sequence[str], chunks: Iterator[bytes], env: dict[str, str]) -> str:
    """Run `cmd` with `chunks` on its stdin; returns its stderr, raises when it fails."""
    proc = subprocess.Popen(  # noqa: S603 - PostgreSQL's own tools, fixed arguments
        list(cmd),
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert proc.stdin is not None
    assert proc.stderr is not None
    stderr: list[bytes] = []
    err = proc.stderr
    drain = threading.Thread(target=lambda: stderr.append(err.read()), daemon=True)
    drain.start()
    try:
        for chunk in chunks:
            proc.stdin.write(chunk)
    except BrokenPipeError:
        pass
    finally:
        proc.stdin.close()
    code = proc.wait()
    drain.join()
    message = b"".join(stderr).decode(errors="replace").strip()
    if code != 0:
        raise ToolError(f"{Path(cmd[0]).name} failed ({code}): {message}")
    return message
