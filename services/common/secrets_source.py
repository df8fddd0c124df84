"""Where secrets come from: files (Kubernetes Secret mounts) or HashiCorp Vault.

A secret is named like the setting it fills (`AUTH_ENCRYPTION_KEYS`). In order:

1. `<NAME>_FILE` in the environment: the path of a file holding the value;
2. the environment variable itself (development, tests);
3. Vault, when `MTD_VAULT_ADDR` is set: key `<NAME>` of the KV v2 secret `MTD_VAULT_PATH`
   (mount `MTD_VAULT_MOUNT`, default `secret`), signed in with `MTD_VAULT_TOKEN` /
   `MTD_VAULT_TOKEN_FILE`, or Kubernetes auth with role `MTD_VAULT_ROLE` and the pod's
   service-account token;
4. a file `<NAME>` in `MTD_SECRETS_DIR` (default `/run/secrets/mtd`, the chart's mount).

Files are read again when they change (a Kubernetes Secret update swaps the mounted file)
and Vault is asked again after `MTD_VAULT_CACHE_SECONDS`, so long-lived key material can
rotate without a restart (see `SecretSource.get`, used by the auth service's key reload).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

SA_TOKEN = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")


def secrets_dir() -> str | None:
    """Where secret files live: `MTD_SECRETS_DIR`, else `/run/secrets/mtd` if present."""
    path = os.environ.get("MTD_SECRETS_DIR", "/run/secrets/mtd")
    return path if os.path.isdir(path) else None


class SecretSourceError(Exception):
    """A configured source cannot be read (missing file, Vault refuses or is down)."""


def _read_file(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError as exc:
        raise SecretSourceError(f"cannot read secret file {path}: {exc.strerror}") from None


class VaultKv:
    """One KV v2 secret in Vault, read with hvac and cached for `cache_seconds`."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.addr = environ["MTD_VAULT_ADDR"]
        self.mount = environ.get("MTD_VAULT_MOUNT", "secret")
        self.path = environ.get("MTD_VAULT_PATH", "")
        if not self.path:
            raise SecretSourceError("MTD_VAULT_PATH is required with MTD_VAULT_ADDR")
        self.role = environ.get("MTD_VAULT_ROLE")
        self.auth_mount = environ.get("MTD_VAULT_AUTH_MOUNT", "kubernetes")
        self.jwt_path = Path(environ.get("MTD_VAULT_JWT_FILE", str(SA_TOKEN)))
        token_file = environ.get("MTD_VAULT_TOKEN_FILE")
        self.token = _read_file(Path(token_file)) if token_file else environ.get("MTD_VAULT_TOKEN")
        if not self.token and not self.role:
            raise SecretSourceError("Vault needs MTD_VAULT_TOKEN(_FILE) or MTD_VAULT_ROLE")
        self.cache_seconds = float(environ.get("MTD_VAULT_CACHE_SECONDS", "30"))
        self._data: dict[str, Any] | None = None
        self._read_at = 0.0

    def _client(self) -> Any:
        import hvac  # only services configured for Vault need it loaded

        client = hvac.Client(url=self.addr, token=self.token, timeout=5)
        if self.role:
            client.auth.kubernetes.login(
                role=self.role, jwt=_read_file(self.jwt_path), mount_point=self.auth_mount
            )
        return client

    def data(self) -> dict[str, Any]:
        if self._data is not None and time.monotonic() - self._read_at < self.cache_seconds:
            return self._data
        import hvac.exceptions
        import requests

        try:
            response = self._client().secrets.kv.v2.read_secret_version(
                path=self.path, mount_point=self.mount, raise_on_deleted_version=True
            )
        except (hvac.exceptions.VaultError, requests.RequestException) as exc:
            raise SecretSourceError(
                f"Vault {self.addr} refused {self.mount}/{self.path}: {exc}"
            ) from None
        self._data, self._read_at = dict(response["data"]["data"]), time.monotonic()
        return self._data


class SecretSource:
    def __init__(
        self, environ: Mapping[str, str] | None = None, directory: str | None = None
    ) -> None:
        self.environ = os.environ if environ is None else environ
        self.secrets_dir = directory if directory is not None else secrets_dir()
        self.vault = VaultKv(self.environ) if self.environ.get("MTD_VAULT_ADDR") else None

    def from_file_pointer(self, name: str) -> str | None:
        path = self.environ.get(f"{name}_FILE")
        return _read_file(Path(path)) if path else None

    def from_vault(self, name: str) -> str | None:
        if self.vault is None:
            return None
        value = self.vault.data().get(name)
        return None if value is None else str(value).strip()

    def from_secrets_dir(self, name: str) -> str | None:
        if not self.secrets_dir:
            return None
        path = Path(self.secrets_dir) / name
        return _read_file(path) if path.is_file() else None

    def get(self, name: str) -> str | None:
        """The current value of secret `name` from the first source that has it."""
        for value in (
            self.from_file_pointer(name),
            self.environ.get(name),
            self.from_vault(name),
            self.from_secrets_dir(name),
        ):
            if value is not None:
                return value
        return None
