"""Token signing keys and the JWKS.

The current key signs; the previous key (during a rotation) only verifies and stays in the
JWKS until every token it signed has expired. A next key is published in the JWKS before it
signs anything, so every verifier's cached JWKS knows it by the time it is made current.
A key's id is its RFC 7638 thumbprint, so the same key always has the same `kid` on every
replica without coordination.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from jwt.algorithms import OKPAlgorithm, RSAAlgorithm


@dataclass(frozen=True)
class SigningKey:
    kid: str
    alg: str
    private_key: Ed25519PrivateKey | RSAPrivateKey
    public_jwk: dict[str, Any]

    @property
    def public_key(self) -> Any:
        return self.private_key.public_key()


def _thumbprint(jwk: dict[str, Any]) -> str:
    required = ("crv", "kty", "x") if jwk["kty"] == "OKP" else ("e", "kty", "n")
    canonical = json.dumps({k: jwk[k] for k in required}, separators=(",", ":"), sort_keys=True)
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def load_signing_key(pem: str) -> SigningKey:
    private_key = serialization.load_pem_private_key(pem.encode(), password=None)
    if isinstance(private_key, Ed25519PrivateKey):
        alg = "EdDSA"
        jwk: dict[str, Any] = OKPAlgorithm.to_jwk(private_key.public_key(), as_dict=True)
    elif isinstance(private_key, RSAPrivateKey):
        if private_key.key_size < 2048:
            raise ValueError("RSA signing keys must be at least 2048 bits")
        alg = "RS256"
        jwk = RSAAlgorithm.to_jwk(private_key.public_key(), as_dict=True)
    else:
        raise ValueError("the signing key must be Ed25519 or RSA")
    kid = _thumbprint(jwk)
    public_jwk = {**jwk, "kid": kid, "alg": alg, "use": "sig"}
    return SigningKey(kid=kid, alg=alg, private_key=private_key, public_jwk=public_jwk)


def generate_pem() -> str:
    return (
        Ed25519PrivateKey.generate()
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )


class KeyRing:
    """The signing keys in use; `update` swaps them in place (a reloaded secret)."""

    def __init__(
        self,
        current: SigningKey,
        previous: SigningKey | None = None,
        next_key: SigningKey | None = None,
    ) -> None:
        self.update(current, previous, next_key)

    def update(
        self,
        current: SigningKey,
        previous: SigningKey | None = None,
        next_key: SigningKey | None = None,
    ) -> None:
        self.current = current
        self.previous = previous if previous and previous.kid != current.kid else None
        self.next = next_key if next_key and next_key.kid != current.kid else None

    def _published(self) -> list[SigningKey]:
        return [k for k in (self.current, self.next, self.previous) if k is not None]

    def kids(self) -> list[str]:
        return [k.kid for k in self._published()]

    def public_keys(self) -> dict[str, Any]:
        return {k.kid: k.public_key for k in self._published()}

    def jwks(self) -> dict[str, Any]:
        return {"keys": [k.public_jwk for k in self._published()]}
