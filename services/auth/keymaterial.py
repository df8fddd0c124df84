"""Where the auth service's key material comes from, and how it rotates without a restart.

Settings (environment, `<NAME>_FILE`, Vault or `MTD_SECRETS_DIR` files) always win. Only in
development, missing material is generated once and kept in `dev_secrets_dir` (mode 0600,
outside the repository's tracked files) so restarts keep the same keys; settings validation
already refuses to start any other environment without it.

`reload` reads the rotating secrets again from their source (a Kubernetes Secret update
swaps the mounted files; Vault is asked again) and updates the key rings in place; the
service runs it every `key_reload_seconds`. A secret read as empty is unset (how an
operator drops the previous signing key or the next one).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from services.auth.hashing import IdentifierHasher, parse_salts
from services.auth.settings import AuthSettings
from services.auth.signing import KeyRing, SigningKey, generate_pem, load_signing_key
from services.common.envelope import Envelope, new_keyring_entry, parse_keyring
from services.common.logging import get_logger
from services.common.secrets_source import SecretSource, SecretSourceError
from services.common.settings import setting_name

log = get_logger(__name__)

# The settings that may change while the service runs.
ROTATING = (
    "signing_key",
    "previous_signing_key",
    "next_signing_key",
    "encryption_keys",
    "encryption_key_current",
    "user_id_salts",
)


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


def _values(settings: AuthSettings, overrides: dict[str, str | None]) -> dict[str, str | None]:
    """Each rotating setting's value: a fresh read where there is one, else the settings'
    value; in development missing required ones are generated."""

    def pick(name: str, generate: Callable[[], str] | None = None) -> str | None:
        if name in overrides:
            return overrides[name] or None
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            return value.get_secret_value()
        if value is not None or generate is None:
            return value if isinstance(value, str) else None
        if settings.environment != "development":  # guarded by settings validation too
            raise RuntimeError(
                f"{setting_name(AuthSettings, name)} is required outside development"
            )
        return _dev_value(settings.dev_secrets_dir, name, generate)

    return {
        "signing_key": pick("signing_key", generate_pem),
        "previous_signing_key": pick("previous_signing_key"),
        "next_signing_key": pick("next_signing_key"),
        "encryption_keys": pick("encryption_keys", new_keyring_entry),
        "encryption_key_current": pick("encryption_key_current"),
        "user_id_salts": pick("user_id_salts", lambda: "s1:" + secrets.token_urlsafe(32)),
    }


def _signing(values: dict[str, str | None]) -> KeyRing:
    def load(name: str) -> SigningKey | None:
        value = values[name]
        return load_signing_key(value) if value else None

    current = load("signing_key")
    assert current is not None
    return KeyRing(current, load("previous_signing_key"), load("next_signing_key"))


def _build(values: dict[str, str | None]) -> KeyMaterial:
    keyring, salts = values["encryption_keys"], values["user_id_salts"]
    assert keyring is not None
    assert salts is not None
    return KeyMaterial(
        _signing(values),
        Envelope(parse_keyring(keyring), values["encryption_key_current"]),
        IdentifierHasher(parse_salts(salts)),
    )


def load_key_material(settings: AuthSettings) -> KeyMaterial:
    return _build(_values(settings, {}))


def reload(settings: AuthSettings, keys: KeyMaterial, source: SecretSource | None = None) -> bool:
    """Read the rotating secrets again and update `keys` in place; True when anything
    changed. A value that does not parse leaves every ring as it was."""
    source = source or SecretSource()
    fresh: dict[str, str | None] = {}
    for name in ROTATING:
        value = source.get(setting_name(AuthSettings, name))
        if value is not None:
            fresh[name] = value
    new = _build(_values(settings, fresh))  # raises before anything is swapped

    def fingerprint() -> tuple[object, ...]:
        salts = [version for version, _ in keys.identifiers.salts()]
        return keys.signing.kids(), keys.envelope.current_kid, keys.envelope.kids, salts

    before = fingerprint()
    keys.signing.update(new.signing.current, new.signing.previous, new.signing.next)
    keys.envelope.update(new.envelope.keyring(), new.envelope.current_kid)
    keys.identifiers.update(new.identifiers.salts())
    after = fingerprint()
    if after != before:
        log.info(
            "key material reloaded",
            signing=keys.signing.current.kid,
            published=keys.signing.kids(),
            kek=keys.envelope.current_kid,
            keks=keys.envelope.kids,
            salts=after[3],
        )
    return after != before


async def reload_forever(settings: AuthSettings, keys: KeyMaterial) -> None:
    source = SecretSource()
    while True:
        await asyncio.sleep(settings.key_reload_seconds)
        try:
            await asyncio.to_thread(reload, settings, keys, source)
        except (SecretSourceError, ValueError, RuntimeError) as exc:
            # Keep serving with the keys in hand; the next round tries again.
            log.error("key material reload failed", error=str(exc))


def keys_for_migration(
    environ: Mapping[str, str] | None = None,
) -> tuple[Envelope, IdentifierHasher]:
    """The KEKs and salts from their usual sources, for a migration that seals existing rows
    (the migration Job mounts the service's secrets). In development the generated files
    under `AUTH_DEV_SECRETS_DIR` (default `.local/auth`) serve."""
    source = SecretSource(environ)
    env = source.environ
    development = env.get("AUTH_ENVIRONMENT", "development") == "development"
    dev_dir = Path(
        env.get("AUTH_DEV_SECRETS_DIR") or Path(env.get("MTD_LOCAL_DIR", ".local")) / "auth"
    )

    def get(name: str) -> str | None:
        value = source.get(setting_name(AuthSettings, name))
        if value is None and development and (dev_dir / name).is_file():
            value = (dev_dir / name).read_text().strip()
        return value or None

    keyring, salts = get("encryption_keys"), get("user_id_salts")
    if keyring is None or salts is None:
        raise RuntimeError(
            "sealing existing users needs AUTH_ENCRYPTION_KEYS and AUTH_USER_ID_SALTS "
            "(mount the auth service's secrets into the migration)"
        )
    envelope = Envelope(parse_keyring(keyring), get("encryption_key_current"))
    return envelope, IdentifierHasher(parse_salts(salts))
