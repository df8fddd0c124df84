"""The backup encryption key: 32 random bytes, given as base64 or hex text.

A key is named by a short fingerprint (its key id) so an artefact can say which key sealed
it and a restore with the wrong key fails with that, not with a bare decryption error. The
fingerprint is a domain-separated hash: it identifies the key without revealing it.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import os
import secrets
from pathlib import Path

KEY_BYTES = 32
KEY_ID_BYTES = 8


class BackupKeyError(ValueError):
    """The key is missing or malformed (the message never contains key material)."""


def parse_key(text: str) -> bytes:
    value = text.strip()
    candidates: list[bytes] = []
    if len(value) == 2 * KEY_BYTES:
        with contextlib.suppress(ValueError):
            candidates.append(bytes.fromhex(value))
    for decode in (base64.b64decode, base64.urlsafe_b64decode):
        with contextlib.suppress(binascii.Error, ValueError):
            candidates.append(decode(value + "=" * (-len(value) % 4)))
    for key in candidates:
        if len(key) == KEY_BYTES:
            return key
    raise BackupKeyError(f"the backup key must be {KEY_BYTES} bytes, as base64 or hex")


def key_id(key: bytes) -> bytes:
    return hashlib.sha256(b"mtd-backup-key-id\n" + key).digest()[:KEY_ID_BYTES]


def read_key_file(path: Path) -> bytes:
    try:
        return parse_key(path.read_text())
    except FileNotFoundError:
        raise BackupKeyError(f"backup key file {path} does not exist") from None


def new_key_text() -> str:
    return base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()


def write_key_file(path: Path, text: str | None = None) -> Path:
    """Create a key file readable by its owner only (never overwrites one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write((text or new_key_text()) + "\n")
    return path
