"""MANIFEST.sha256: the SHA-256 of every file in the dataset, in `sha256sum` format, so a
file changed by hand (rather than by `python -m golden update`) fails the run by name."""

from __future__ import annotations

import hashlib
from pathlib import Path

MANIFEST = "MANIFEST.sha256"


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and p.name != MANIFEST)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def render(root: Path) -> str:
    return "".join(f"{digest(p)}  {p.relative_to(root).as_posix()}\n" for p in _files(root))


def write(root: Path) -> None:
    (root / MANIFEST).write_text(render(root))


def problems(root: Path) -> list[str]:
    """Every way the dataset differs from its manifest, one line each, naming the file."""
    path = root / MANIFEST
    if not path.exists():
        return [f"{MANIFEST} is missing"]
    listed: dict[str, str] = {}
    for line in path.read_text().splitlines():
        sha, _, name = line.partition("  ")
        listed[name] = sha
    found = {p.relative_to(root).as_posix(): p for p in _files(root)}
    out = []
    for name, sha in sorted(listed.items()):
        if name not in found:
            out.append(f"hash mismatch: {name} is listed in {MANIFEST} but missing")
        elif digest(found[name]) != sha:
            out.append(f"hash mismatch: {name} does not match its SHA-256 in {MANIFEST}")
    unlisted = sorted(found.keys() - listed.keys())
    out += [f"hash mismatch: {name} is not listed in {MANIFEST}" for name in unlisted]
    return out
