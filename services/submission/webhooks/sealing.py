"""Webhook signing secrets at rest: AES-256-GCM under SUBMISSION_WEBHOOK_KEYS.

A signing secret has to be recovered to sign each delivery, so it is encrypted rather than
hashed. The keys setting is `base64key[,base64key…]`, newest first: the first seals, every
one opens (a rotation adds a key in front and keeps the old ones until nothing uses them).
The webhook's id is bound in as associated data, so a sealed value copied to another row
does not open. Stored form: `v1:<key id>:<b64 nonce+ciphertext>`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_VERSION = "v1"


class SealError(Exception):
    pass


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def parse_keys(spec: str) -> list[bytes]:
    """`base64key[,base64key…]` -> 32-byte keys; raises ValueError naming what is wrong."""
    keys = []
    for entry in filter(None, (part.strip() for part in spec.split(","))):
        try:
            key = base64.b64decode(entry + "=" * (-len(entry) % 4), altchars=b"-_", validate=False)
        except (binascii.Error, ValueError):
            raise ValueError("each key must be base64") from None
        if len(key) != 32:
            raise ValueError("each key must be 32 bytes (AES-256), base64-encoded")
        keys.append(key)
    if not keys:
        raise ValueError("no keys given")
    return keys


def key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:8]


class SecretBox:
    def __init__(self, keys: list[bytes]) -> None:
        if not keys:
            raise ValueError("at least one key is needed")
        self._current = key_id(keys[0])
        self._keys = {key_id(k): AESGCM(k) for k in keys}

    def seal(self, plaintext: str, context: str) -> str:
        nonce = os.urandom(12)
        sealed = self._keys[self._current].encrypt(nonce, plaintext.encode(), context.encode())
        return f"{_VERSION}:{self._current}:{_b64(nonce + sealed)}"

    def open(self, stored: str, context: str) -> str:
        try:
            version, kid, sealed = stored.split(":")
        except ValueError:
            raise SealError("not a sealed value") from None
        key = self._keys.get(kid)
        if version != _VERSION or key is None:
            raise SealError(f"no key {kid} for a {version} value")
        try:
            raw = _unb64(sealed)
            return key.decrypt(raw[:12], raw[12:], context.encode()).decode()
        except (InvalidTag, ValueError):
            raise SealError("the value does not open in this context") from None
