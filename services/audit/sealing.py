"""Per-subject encryption of personal data (crypto-shredding).

Each (tenant, data subject) has its own random 256-bit data key, stored wrapped by the
service's key-encryption key. Personal fields are sealed with AES-256-GCM under that key;
the hash chain covers the ciphertext, so destroying the key (erasure) makes the data
unreadable — in the database and in every backup of it — while the chain still verifies.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.common import jsonutil
from services.common.envelope import unwrap_key, wrap_key

VERSION = b"\x01"
NONCE_BYTES = 12


class Unreadable(Exception):
    """The data key is destroyed (erased) or the ciphertext does not authenticate."""


class KeyWrapper:
    """Wraps and unwraps data keys with the key-encryption key (the platform's one
    key-wrapping, services/common/envelope.py), bound to the key's row id."""

    def __init__(self, kek: bytes) -> None:
        self._kek = AESGCM(kek)

    def new_key(self, key_id: uuid.UUID) -> tuple[bytes, bytes]:
        """A fresh data key and its wrapped form (bound to `key_id`)."""
        key = AESGCM.generate_key(bit_length=256)
        return key, VERSION + wrap_key(self._kek, key, key_id.bytes)

    def unwrap(self, key_id: uuid.UUID, wrapped: bytes | None) -> bytes:
        if wrapped is None:
            raise Unreadable("the data key was destroyed")
        try:
            return unwrap_key(self._kek, wrapped[1:], key_id.bytes)
        except InvalidTag:
            raise Unreadable("the data key does not unwrap with this key-encryption key") from None


def seal(key: bytes, record_id: uuid.UUID, value: Any) -> bytes:
    """JSON-encode and encrypt `value`; the record id is authenticated data, so sealed
    content cannot be moved to another record unnoticed."""
    nonce = os.urandom(NONCE_BYTES)
    plaintext = jsonutil.dumps(value).encode()
    return VERSION + nonce + AESGCM(key).encrypt(nonce, plaintext, record_id.bytes)


def unseal(key: bytes, record_id: uuid.UUID, sealed: bytes) -> Any:
    nonce, ciphertext = sealed[1 : 1 + NONCE_BYTES], sealed[1 + NONCE_BYTES :]
    try:
        plaintext = AESGCM(key).decrypt(nonce, ciphertext, record_id.bytes)
    except InvalidTag:
        raise Unreadable("the sealed data does not authenticate") from None
    return jsonutil.loads(plaintext)
