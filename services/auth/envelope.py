"""Envelope encryption for secrets at rest (HMRC tokens, PKCE verifiers): AES-256-GCM.

Each value gets its own random data key; the data key is wrapped with the current
key-encryption key (KEK), whose id travels with the ciphertext so older KEKs keep
decrypting after a rotation. A `context` (e.g. `connection:<id>:refresh_token`) is bound
in as associated data, so a ciphertext copied into another row or field fails to decrypt.

Stored form: `v1:<kek id>:<b64 nonce+wrapped data key>:<b64 nonce+ciphertext>`.
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


class EnvelopeError(Exception):
    pass


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


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
    def __init__(self, keys: list[tuple[str, bytes]]) -> None:
        if not keys:
            raise ValueError("an envelope needs at least one key")
        self.current_kid = keys[0][0]
        self._keks = {kid: AESGCM(key) for kid, key in keys}

    def encrypt(self, plaintext: str, context: str) -> str:
        data_key = AESGCM.generate_key(bit_length=256)
        aad = context.encode()
        wrap_nonce, nonce = os.urandom(12), os.urandom(12)
        wrapped = self._keks[self.current_kid].encrypt(wrap_nonce, data_key, aad)
        ciphertext = AESGCM(data_key).encrypt(nonce, plaintext.encode(), aad)
        return ":".join(
            (_VERSION, self.current_kid, _b64(wrap_nonce + wrapped), _b64(nonce + ciphertext))
        )

    def decrypt(self, stored: str, context: str) -> str:
        try:
            version, kid, wrapped, sealed = stored.split(":")
        except ValueError:
            raise EnvelopeError("not an envelope") from None
        if version != _VERSION:
            raise EnvelopeError(f"unknown envelope version {version}")
        kek = self._keks.get(kid)
        if kek is None:
            raise EnvelopeError(f"key {kid} is not configured")
        aad = context.encode()
        try:
            raw_wrapped, raw_sealed = _unb64(wrapped), _unb64(sealed)
            data_key = kek.decrypt(raw_wrapped[:12], raw_wrapped[12:], aad)
            return AESGCM(data_key).decrypt(raw_sealed[:12], raw_sealed[12:], aad).decode()
        except (InvalidTag, ValueError):
            raise EnvelopeError("the value does not decrypt in this context") from None

    def key_id(self, stored: str) -> str:
        return stored.split(":", 2)[1]
