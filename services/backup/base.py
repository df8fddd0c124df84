"""Physical backups: a base backup (pg_basebackup, tar to stdout, sealed as it streams) and
its restore to a fresh data directory, replaying the WAL archive to the latest point or to
a chosen instant."""

from __future__ import annotations

import shutil
import subprocess
import tarfile
from datetime import datetime
from pathlib import Path

from services.backup import wal
from services.backup.artefacts import ChunkReader, ToolError, open_artefact, seal_command
from services.backup.catalog import Backup, iso, utc_now
from services.backup.conninfo import Conn
from services.backup.keys import key_id
from services.backup.server import PgServer, pg_bin


def query(conn: Conn, sql: str) -> str:
    result = subprocess.run(  # noqa: S603 - our own binary, fixed arguments
        [str(pg_bin() / "psql"), "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1",
         *conn.args(), "-d", conn.database, "-c", sql],
        capture_output=True, text=True, timeout=60, check=False, env=conn.env(),
    )  # fmt: skip
    if result.returncode != 0:
        raise ToolError(f"psql failed: {result.stderr.strip()}")
    return result.stdout.strip()


def backup_id(kind: str, at: datetime) -> str:
    return f"{kind}-{at.strftime('%Y%m%dT%H%M%S%fZ')}"


def take(root: Path, key: bytes, conn: Conn) -> Backup:
    started = utc_now()
    version = query(conn, "SHOW server_version")
    ident = backup_id("base", started)
    # Recovery needs WAL from the backup's checkpoint on, which is at or after this file.
    start_wal = query(conn, "SELECT pg_walfile_name(pg_current_wal_lsn())")
    # -X fetch puts the WAL the backup needs inside it: restorable without the archive.
    cmd = [
        str(pg_bin() / "pg_basebackup"), *conn.args(), "-D", "-", "-F", "t", "-X", "fetch",
        "--checkpoint=fast", "--no-manifest", "-l", ident,
    ]  # fmt: skip
    artefact = seal_command(key, cmd, root, f"{ident}/base.tar.sealed", conn.env())
    finished = utc_now()
    return Backup(
        id=ident,
        kind="base",
        started_at=iso(started),
        finished_at=iso(finished),
        consistent_at=iso(finished),
        start_wal=start_wal,
        key_id=key_id(key).hex(),
        server_version=version,
        artefacts=[artefact],
    )


def extract(root: Path, key: bytes, backup: Backup, datadir: Path) -> None:
    if datadir.exists() and any(datadir.iterdir()):
        raise FileExistsError(f"{datadir} is not empty; restore needs a fresh directory")
    datadir.mkdir(parents=True, exist_ok=True, mode=0o700)
    reader = ChunkReader(open_artefact(key, root, backup.artefacts[0]))
    with tarfile.open(fileobj=reader, mode="r|") as tar:  # type: ignore[call-overload]
        tar.extractall(datadir, filter="data")


def restore(
    root: Path,
    key: bytes,
    backup: Backup,
    datadir: Path,
    port: int,
    *,
    archive: Path | None,
    target_time: datetime | None = None,
) -> PgServer:
    """A running, promoted server on `port` with the backup plus the archived WAL."""
    extract(root, key, backup, datadir)
    server = PgServer(datadir, port)
    # WAL is opened (checked, decrypted) up front into a directory only the server's user
    # reads, and removed once recovery is over.
    staged = datadir.parent / f"{datadir.name}.wal-staged"
    settings = {"archive_mode": "off"}
    if archive is not None:
        staged.mkdir(mode=0o700)
        wal.stage(archive, key, staged, backup.start_wal)
        server.own(staged)
        settings["restore_command"] = wal.staged_restore_command(staged)
        settings["recovery_target_timeline"] = "latest"
        if target_time is not None:
            settings["recovery_target_time"] = iso(target_time)
            settings["recovery_target_action"] = "promote"
        (datadir / "recovery.signal").touch()
    server.settings = settings
    try:
        server.start()
        server.wait_promoted()
    finally:
        shutil.rmtree(staged, ignore_errors=True)
    return server
