"""Backup settings (`BACKUP_` prefix). The key comes like every other secret: the
environment, a file named `BACKUP_ENCRYPTION_KEY` in `MTD_SECRETS_DIR`, or an explicit
`BACKUP_ENCRYPTION_KEY_FILE`. Only in development may a key be generated (once, per
machine, into the backup directory); elsewhere a missing key stops the command."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from services.backup.keys import BackupKeyError, parse_key, read_key_file, write_key_file
from services.common.settings import ServiceSettings

DEV_KEY = "development.key"


class BackupSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="BACKUP_", extra="ignore", frozen=True)

    # Where artefacts, the WAL archive and catalog.json live.
    dir: Path = Path(".local/backups")
    encryption_key: SecretStr | None = None
    encryption_key_file: Path | None = None
    # Databases to dump logically; empty means every `mtd_*` database on the server.
    databases: list[str] = Field(default_factory=list)
    # node_exporter textfile collector file and/or a Pushgateway base URL for the metrics.
    metrics_file: Path | None = None
    pushgateway_url: str | None = None

    def key(self) -> bytes:
        if self.encryption_key is not None:
            return parse_key(self.encryption_key.get_secret_value())
        if self.encryption_key_file is not None:
            return read_key_file(self.encryption_key_file)
        if self.environment != "development":
            raise BackupKeyError(
                "BACKUP_ENCRYPTION_KEY (or BACKUP_ENCRYPTION_KEY_FILE) is required outside "
                "development"
            )
        return read_key_file(self.key_file())

    def key_file(self) -> Path:
        """A file holding the key, for PostgreSQL's archive/restore commands."""
        if self.encryption_key_file is not None:
            return self.encryption_key_file
        path = self.dir / DEV_KEY
        if self.encryption_key is None and self.environment == "development":
            if not path.exists():
                write_key_file(path)
            return path
        raise BackupKeyError("the WAL archive commands need BACKUP_ENCRYPTION_KEY_FILE")
