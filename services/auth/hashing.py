"""Hashing of secrets: argon2id for what callers present (passwords, client secrets,
recovery codes), SHA-256 for high-entropy random tokens we look up by value (login
challenges, OAuth `state`), and salted, versioned HMAC-SHA256 for identifiers we hand to
HMRC (`Gov-Client-User-IDs`, MFA unique references)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from services.auth.settings import AuthSettings


class SecretHasher:
    """argon2id, run in a thread: a hash costs tens of milliseconds of CPU by design."""

    def __init__(self, settings: AuthSettings) -> None:
        self._hasher = PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_cost_kib,
            parallelism=settings.argon2_parallelism,
        )
        # Checked when the identity is unknown, so a miss costs as much as a wrong secret.
        self._decoy = self._hasher.hash(secrets.token_urlsafe(16))

    async def hash(self, secret: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, secret)

    async def verify(self, hashed: str | None, secret: str) -> bool:
        def check() -> bool:
            try:
                return self._hasher.verify(hashed or self._decoy, secret) and hashed is not None
            except (VerificationError, InvalidHashError):
                return False

        return await asyncio.to_thread(check)


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


_VERSION = re.compile(r"^[A-Za-z0-9_-]{1,16}$")


def parse_salts(spec: str) -> list[tuple[str, bytes]]:
    """`version:salt,version:salt` (newest first) -> [(version, salt bytes)]."""
    salts: list[tuple[str, bytes]] = []
    for entry in filter(None, (part.strip() for part in spec.split(","))):
        version, sep, salt = entry.partition(":")
        if not sep or not _VERSION.match(version) or len(salt) < 16:
            raise ValueError("each entry must be `version:salt` with a salt of 16+ characters")
        salts.append((version, salt.encode()))
    if not salts:
        raise ValueError("no salts given")
    return salts


class IdentifierHasher:
    """Salted, versioned HMAC-SHA256: `<version>.<hex>`. New hashes use the newest salt; a
    hash made with an older salt still verifies while that salt is configured."""

    def __init__(self, salts: list[tuple[str, bytes]]) -> None:
        self.update(salts)

    def update(self, salts: list[tuple[str, bytes]]) -> None:
        self.current = salts[0][0]
        self._salts = dict(salts)

    def salts(self) -> list[tuple[str, bytes]]:
        current = [(self.current, self._salts[self.current])]
        return current + [(v, s) for v, s in self._salts.items() if v != self.current]

    def candidates(self, value: str, purpose: str) -> list[str]:
        """The hash of `value` under every configured salt: how a keyed lookup column
        (e.g. users.email_hash) still finds rows hashed before a salt rotation."""
        return [f"{v}.{self._digest(v, purpose, value)}" for v in self._salts]

    def _digest(self, version: str, purpose: str, value: str) -> str:
        message = f"{purpose}\x00{value}".encode()
        return hmac.new(self._salts[version], message, hashlib.sha256).hexdigest()

    def hash(self, value: str, purpose: str = "user-id") -> str:
        return f"{self.current}.{self._digest(self.current, purpose, value)}"

    def verify(self, value: str, hashed: str, purpose: str = "user-id") -> bool:
        version, _, digest = hashed.partition(".")
        if version not in self._salts:
            return False
        return hmac.compare_digest(self._digest(version, purpose, value), digest)
