"""Envelope encryption for values at rest: AES-256-GCM, one random data key per value.

The data key is wrapped by a key-encryption key (KEK) whose id travels with the value, so
older KEKs keep decrypting after a rotation until every value is re-wrapped (`rewrap`
re-encrypts only the 32-byte data key; the sealed value itself is untouched). A `context`
(e.g. `connection:<id>:refresh_token`) is bound in as associated data, so a value copied
into another row or field fails to decrypt.

Stored form: `v1:<kek id>:<b64 nonce+wrapped data key>:<b64 nonce+ciphertext>`. A data key
kept apart from its value (the audit log's per-subject keys) is wrapped by the same ring in
binary form: `0x02 | len(kid) | kid | nonce | wrapped key` (`wrap_data_key`).

The keyring is live: `update` swaps the keys in place (a re-read secret file), so every
holder of the envelope sees a rotation at once. A new KEK is first added as decrypt-only
(every replica can read what it will write), then made current.
"""

from __future__ import annotations

import base64
import os
import re
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_KID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_VERSION = "v1"
_BINARY, _LEGACY_BINARY = b"\x02", b"\x01"
LEGACY_KID = "legacy"
NONCE_BYTES = 12


class EnvelopeError(Exception):
    pass


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def wrap_key(kek: AESGCM, data_key: bytes, aad: bytes) -> bytes:
    """`nonce + AES-GCM(kek, data_key)`: the one key-wrapping used for every data key."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce + kek.encrypt(nonce, data_key, aad)


def unwrap_key(kek: AESGCM, wrapped: bytes, aad: bytes) -> bytes:
    """Raises `InvalidTag` when the KEK or the associated data is not the one used."""
    return kek.decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], aad)


def parse_keyring(spec: str) -> list[tuple[str, bytes]]:
    """`kid:base64key,kid:base64key` (newest first) -> [(kid, 32-byte key)]."""
    keys: list[tuple[str, bytes]] = []
    for entry in filter(None, (part.strip() for part in spec.split(","))):
        kid, sep, material = entry.partition(":")
        if not sep or not _KID.match(kid):
            raise ValueError("each entry must be `kid:base64key` with a short [A-Za-z0-9_-] id")
        key = _unb64(material.strip())
        if len(key) != 32:
            raise ValueError(f"key {kid} must be 32 bytes (AES-256)")
        keys.append((kid, key))
    if not keys:
        raise ValueError("no keys given")
    if len({kid for kid, _ in keys}) != len(keys):
        raise ValueError("key ids must be unique")
    return keys


def new_keyring_entry(kid: str | None = None) -> str:
    return f"{kid or 'k' + secrets.token_hex(4)}:{_b64(AESGCM.generate_key(bit_length=256))}"


class Envelope:
    def __init__(self, keys: list[tuple[str, bytes]], current: str | None = None) -> None:
        self.current_kid = ""
        self._keys: list[tuple[str, bytes]] = []
        self._keks: dict[str, AESGCM] = {}
        self.update(keys, current)

    def update(self, keys: list[tuple[str, bytes]], current: str | None = None) -> None:
        """Replace the keyring. `current` names the KEK that wraps new values (default: the
        first); the others only decrypt."""
        if not keys:
            raise ValueError("an envelope needs at least one key")
        keks = {kid: AESGCM(key) for kid, key in keys}
        current = current or keys[0][0]
        if current not in keks:
            raise ValueError(f"the current key {current} is not in the keyring")
        self._keys, self._keks, self.current_kid = list(keys), keks, current

    def keyring(self) -> list[tuple[str, bytes]]:
        return list(self._keys)

    @property
    def kids(self) -> list[str]:
        return list(self._keks)

    def encrypt(self, plaintext: str, context: str) -> str:
        data_key = AESGCM.generate_key(bit_length=256)
        aad = context.encode()
        nonce = os.urandom(NONCE_BYTES)
        ciphertext = AESGCM(data_key).encrypt(nonce, plaintext.encode(), aad)
        return self._assemble(self.current_kid, data_key, aad, _b64(nonce + ciphertext))

    def _assemble(self, kid: str, data_key: bytes, aad: bytes, sealed: str) -> str:
        wrapped = wrap_key(self._keks[kid], data_key, aad)
        return ":".join((_VERSION, kid, _b64(wrapped), sealed))

    def _open(self, stored: str, context: str) -> tuple[bytes, str]:
        """(data key, sealed part) of a stored value."""
        try:
            version, kid, wrapped, sealed = stored.split(":")
        except ValueError:
            raise EnvelopeError("not an envelope") from None
        if version != _VERSION:
            raise EnvelopeError(f"unknown envelope version {version}")
        kek = self._keks.get(kid)
        if kek is None:
            raise EnvelopeError(f"key {kid} is not configured")
        try:
            return unwrap_key(kek, _unb64(wrapped), context.encode()), sealed
        except (InvalidTag, ValueError):
            raise EnvelopeError("the value does not decrypt in this context") from None

    def decrypt(self, stored: str, context: str) -> str:
        data_key, sealed = self._open(stored, context)
        try:
            raw = _unb64(sealed)
            aad = context.encode()
            return AESGCM(data_key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], aad).decode()
        except (InvalidTag, ValueError):
            raise EnvelopeError("the value does not decrypt in this context") from None

    def rewrap(self, stored: str, context: str) -> str:
        """The same value with its data key wrapped by the current KEK."""
        if self.key_id(stored) == self.current_kid:
            return stored
        data_key, sealed = self._open(stored, context)
        return self._assemble(self.current_kid, data_key, context.encode(), sealed)

    @staticmethod
    def key_id(stored: str) -> str:
        return stored.split(":", 2)[1]

    def wrap_data_key(self, data_key: bytes, aad: bytes) -> bytes:
        kid = self.current_kid.encode()
        return (
            _BINARY
            + bytes([len(kid)])
            + kid
            + wrap_key(self._keks[self.current_kid], data_key, aad)
        )

    def unwrap_data_key(self, wrapped: bytes, aad: bytes) -> bytes:
        """Raises `EnvelopeError` when no configured KEK opens it in this context."""
        if wrapped[:1] == _LEGACY_BINARY:
            # Written before key ids: whichever configured KEK authenticates it.
            for legacy in self._keks.values():
                try:
                    return unwrap_key(legacy, wrapped[1:], aad)
                except InvalidTag:
                    continue
            raise EnvelopeError("no configured key opens this data key")
        kid = self.data_key_id(wrapped)
        kek = self._keks.get(kid)
        if kek is None:
            raise EnvelopeError(f"key {kid} is not configured")
        try:
            return unwrap_key(kek, wrapped[2 + wrapped[1] :], aad)
        except InvalidTag:
            raise EnvelopeError("the data key does not unwrap in this context") from None

    def rewrap_data_key(self, wrapped: bytes, aad: bytes) -> bytes:
        if self.data_key_id(wrapped) == self.current_kid:
            return wrapped
        return self.wrap_data_key(self.unwrap_data_key(wrapped, aad), aad)

    @staticmethod
    def data_key_id(wrapped: bytes) -> str:
        """The KEK id of a binary wrapped key; `legacy` for one written before key ids."""
        if wrapped[:1] == _LEGACY_BINARY:
            return LEGACY_KID
        if wrapped[:1] != _BINARY:
            raise EnvelopeError("not a wrapped data key")
        return wrapped[2 : 2 + wrapped[1]].decode()
