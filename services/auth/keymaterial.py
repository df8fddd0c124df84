"""Where the auth service's key material comes from.

Settings (environment or `MTD_SECRETS_DIR` files) always win. Only in development, missing
material is generated once and kept in `dev_secrets_dir` (mode 0600, outside the
repository's tracked files) so restarts keep the same keys; settings validation already
refuses to start any other environment without it.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from services.auth.envelope import Envelope, new_keyring_entry, parse_keyring
from services.auth.hashing import IdentifierHasher, parse_salts
from services.auth.settings import AuthSettings
from services.auth.signing import KeyRing, generate_pem, load_signing_key
from services.common.logging import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class KeyMaterial:
    signing: KeyRing
    envelope: Envelope
    identifiers: IdentifierHasher


def _dev_value(directory: Path, name: str, generate: Callable[[], str]) -> str:
    path = directory / name
    if path.exists():
        return path.read_text().strip()
    value = generate()
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.touch(mode=0o600)
    path.write_text(value + "\n")
    log.info("generated development key material", file=str(path))
    return value


def load_key_material(settings: AuthSettings) -> KeyMaterial:
    def pick(value: SecretStr | None, name: str, generate: Callable[[], str]) -> str:
        if value is not None:
            return value.get_secret_value()
        if settings.environment != "development":  # guarded by settings validation too
            raise RuntimeError(f"AUTH_{name.upper()} is required outside development")
        return _dev_value(settings.dev_secrets_dir, name, generate)

    signing_pem = pick(settings.signing_key, "signing_key", generate_pem)
    previous = settings.previous_signing_key
    keyring = KeyRing(
        load_signing_key(signing_pem),
        load_signing_key(previous.get_secret_value()) if previous else None,
    )
    envelope = Envelope(
        parse_keyring(pick(settings.encryption_keys, "encryption_keys", new_keyring_entry))
    )
    salts = pick(settings.user_id_salts, "user_id_salts", lambda: "s1:" + secrets.token_urlsafe(32))
    return KeyMaterial(keyring, envelope, IdentifierHasher(parse_salts(salts)))
