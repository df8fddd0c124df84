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
from services.common.envelope import Envelope, EnvelopeError

VERSION = b"\x01"
NONCE_BYTES = 12


class Unreadable(Exception):
    """The data key is destroyed (erased) or the ciphertext does not authenticate."""


class KeyWrapper:
    """Wraps and unwraps data keys with the key-encryption key ring (the platform's one
    envelope, services/common/envelope.py), bound to the key's row id."""

    def __init__(self, keyring: Envelope) -> None:
        self.keyring = keyring

    def new_key(self, key_id: uuid.UUID) -> tuple[bytes, bytes]:
        """A fresh data key and its wrapped form (bound to `key_id`)."""
        key = AESGCM.generate_key(bit_length=256)
        return key, self.keyring.wrap_data_key(key, key_id.bytes)

    def unwrap(self, key_id: uuid.UUID, wrapped: bytes | None) -> bytes:
        if wrapped is None:
            raise Unreadable("the data key was destroyed")
        try:
            return self.keyring.unwrap_data_key(bytes(wrapped), key_id.bytes)
        except EnvelopeError as exc:
            raise Unreadable(f"the data key does not unwrap: {exc}") from None


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
