"""Sealed artefacts: zlib-compressed, then AES-256-GCM in 1 MiB frames (a STREAM layout).

Layout: header (magic, key id, nonce prefix) then frames of `length | ciphertext+tag`.
Frame n's nonce is `prefix | n | last-flag` and every frame authenticates the header, so a
frame cannot be reordered, dropped, moved to another artefact or truncated after the end
without decryption failing; each frame is authenticated before any of its plaintext is
released, so a consumer (tar, pg_restore, PostgreSQL) never sees forged bytes.
"""

from __future__ import annotations

import hashlib
import os
import struct
import zlib
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.backup.keys import KEY_ID_BYTES, key_id

MAGIC = b"MTDBAK1\n"
NONCE_PREFIX_BYTES = 7
HEADER_BYTES = len(MAGIC) + KEY_ID_BYTES + NONCE_PREFIX_BYTES
FRAME = 1 << 20
LENGTH = struct.Struct(">I")


class IntegrityError(Exception):
    """An artefact is not what was written: wrong checksum, forged or truncated."""


class WrongKeyError(Exception):
    """An artefact was sealed with another key than the one configured."""


def _nonce(prefix: bytes, counter: int, last: bool) -> bytes:
    return prefix + struct.pack(">I", counter) + (b"\x01" if last else b"\x00")


class SealingWriter:
    """Write plaintext in, sealed frames out; `sha256`/`size` describe the stored bytes."""

    def __init__(self, key: bytes, out: BinaryIO, *, level: int = 1) -> None:
        self._aead = AESGCM(key)
        self._out = out
        self._prefix = os.urandom(NONCE_PREFIX_BYTES)
        self._header = MAGIC + key_id(key) + self._prefix
        self._zip = zlib.compressobj(level)
        self._pending = bytearray()
        self._counter = 0
        self._hash = hashlib.sha256()
        self.size = 0
        self.plain_size = 0
        self._emit(self._header)

    def _emit(self, data: bytes) -> None:
        self._out.write(data)
        self._hash.update(data)
        self.size += len(data)

    def _seal(self, chunk: bytes, last: bool) -> None:
        nonce = _nonce(self._prefix, self._counter, last)
        sealed = self._aead.encrypt(nonce, chunk, self._header)
        self._counter += 1
        self._emit(LENGTH.pack(len(sealed)) + sealed)

    def write(self, data: bytes) -> None:
        self.plain_size += len(data)
        self._pending += self._zip.compress(data)
        while len(self._pending) > FRAME:
            self._seal(bytes(self._pending[:FRAME]), last=False)
            del self._pending[:FRAME]

    def close(self) -> str:
        """Seal the last frame; returns the SHA-256 (hex) of everything written."""
        self._pending += self._zip.flush()
        while len(self._pending) > FRAME:
            self._seal(bytes(self._pending[:FRAME]), last=False)
            del self._pending[:FRAME]
        self._seal(bytes(self._pending), last=True)
        self._pending.clear()
        return self._hash.hexdigest()


def _read_exact(src: BinaryIO, n: int) -> bytes:
    data = src.read(n)
    if len(data) != n:
        raise IntegrityError("artefact is truncated")
    return data


def artefact_key_id(src: BinaryIO) -> bytes:
    header = _read_exact(src, HEADER_BYTES)
    if not header.startswith(MAGIC):
        raise IntegrityError("not a sealed backup artefact")
    return header[len(MAGIC) : len(MAGIC) + KEY_ID_BYTES]


def open_frames(key: bytes, src: BinaryIO) -> Iterator[bytes]:
    """Plaintext of a sealed stream, frame by frame, each authenticated before release."""
    header = _read_exact(src, HEADER_BYTES)
    if not header.startswith(MAGIC):
        raise IntegrityError("not a sealed backup artefact")
    sealed_by = header[len(MAGIC) : len(MAGIC) + KEY_ID_BYTES]
    if sealed_by != key_id(key):
        raise WrongKeyError(
            f"artefact was sealed with backup key {sealed_by.hex()}, "
            f"but the configured key is {key_id(key).hex()}"
        )
    prefix = header[len(MAGIC) + KEY_ID_BYTES :]
    aead = AESGCM(key)
    unzip = zlib.decompressobj()
    counter = 0
    while True:
        raw_length = src.read(LENGTH.size)
        if len(raw_length) != LENGTH.size:
            raise IntegrityError("artefact is truncated (no final frame)")
        (length,) = LENGTH.unpack(raw_length)
        sealed = _read_exact(src, length)
        last = False
        try:
            chunk = aead.decrypt(_nonce(prefix, counter, False), sealed, header)
        except InvalidTag:
            try:
                chunk = aead.decrypt(_nonce(prefix, counter, True), sealed, header)
            except InvalidTag:
                raise IntegrityError(f"frame {counter} fails authentication") from None
            last = True
        counter += 1
        plain = unzip.decompress(chunk)
        if plain:
            yield plain
        if last:
            if src.read(1):
                raise IntegrityError("data follows the final frame")
            tail = unzip.flush()
            if tail:
                yield tail
            if not unzip.eof:
                raise IntegrityError("compressed stream is incomplete")
            return


def seal_stream(key: bytes, chunks: Iterable[bytes], out: BinaryIO) -> SealingWriter:
    writer = SealingWriter(key, out)
    for chunk in chunks:
        writer.write(chunk)
    writer.close()
    return writer


def file_sha256(path: os.PathLike[str] | str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as src:
        while block := src.read(FRAME):
            digest.update(block)
    return digest.hexdigest()
