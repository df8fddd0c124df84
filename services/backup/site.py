"""A PostgreSQL with continuous WAL archiving into the sealed archive: the server the drill
loads, backs up and destroys (and the shape `make up`'s server takes once archiving is on).

PostgreSQL's archive_command spools each finished WAL file; the agent thread seals it into
the archive within `interval` seconds. `archive_timeout` bounds how long a quiet server
keeps a partly filled WAL file to itself: it is the RPO when the machine is lost.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from services.backup import wal
from services.backup.conninfo import Conn
from services.backup.server import PgServer
from services.stack.embedded import PG_USER, free_port

# The WAL switch interval production runs with and the drill measures: a quiet server's
# newest commits reach the archive within about a minute (target RPO: 15 minutes), at the
# cost of one mostly empty 16 MiB segment (compressed when sealed) a minute when little is
# written.
ARCHIVE_TIMEOUT_SECONDS = 60


def archive_settings(spool: Path, archive_timeout: int = ARCHIVE_TIMEOUT_SECONDS) -> dict[str, str]:
    """Server settings for continuous archiving through `spool` (see wal.spool_command)."""
    return {
        "wal_level": "replica",
        "archive_mode": "on",
        "archive_command": wal.spool_command(spool),
        "archive_timeout": str(archive_timeout),
    }


class ArchivingServer:
    def __init__(
        self,
        workdir: Path,
        archive: Path,
        key: bytes,
        archive_timeout: int = ARCHIVE_TIMEOUT_SECONDS,
    ) -> None:
        self.server = PgServer(workdir / "pgdata", free_port())
        self.spool = workdir / "wal-spool"
        self.archive = archive
        self.agent = wal.Agent(self.spool, archive, key)
        self.archive_timeout = archive_timeout

    @property
    def conn(self) -> Conn:
        return Conn("127.0.0.1", self.server.port, PG_USER, None, "postgres")

    def start(self) -> None:
        self.archive.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.spool.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.server.init()
        self.server.own(self.spool)
        self.server.settings = {
            **archive_settings(self.spool, self.archive_timeout),
            "max_wal_size": "2GB",
            "checkpoint_timeout": "15min",
        }
        self.agent.start()
        self.server.start()

    def stop(self) -> None:
        self.server.stop()
        self.agent.stop()

    def destroy(self) -> None:
        """Lose the machine: crash the server, delete its data and the unsealed spool."""
        self.server.destroy()
        self.agent.stop()
        shutil.rmtree(self.spool, ignore_errors=True)
