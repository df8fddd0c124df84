"""Logical backups: the cluster's roles (pg_dumpall --globals-only) and one pg_dump -Fc per
service database, each sealed; restore of one database into any server."""

from __future__ import annotations

import re
from pathlib import Path

from services.backup.artefacts import check, feed_command, open_artefact, seal_command
from services.backup.base import backup_id, query
from services.backup.catalog import Artefact, Backup, iso, utc_now
from services.backup.conninfo import Conn
from services.backup.keys import key_id
from services.backup.server import pg_bin

GLOBALS = "globals.sql.sealed"
DATABASE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def service_databases(conn: Conn) -> list[str]:
    names = query(conn, r"SELECT datname FROM pg_database WHERE datname LIKE 'mtd\_%' ORDER BY 1")
    return [n for n in names.splitlines() if n]


def take(root: Path, key: bytes, conn: Conn, databases: list[str] | None = None) -> Backup:
    started = utc_now()
    ident = backup_id("logical", started)
    tool = pg_bin()
    names = databases or service_databases(conn)
    # Roles first: the dumps grant to roles (mtd_audit_app) that a fresh server lacks.
    # Passwords stay out; the secret store holds them.
    artefacts: list[Artefact] = [
        seal_command(
            key,
            [str(tool / "pg_dumpall"), *conn.args(), "--globals-only", "--no-role-passwords"],
            root,
            f"{ident}/{GLOBALS}",
            conn.env(),
        )
    ]
    for name in names:
        cmd = [str(tool / "pg_dump"), *conn.args(), "-d", name, "-F", "c", "-Z", "0"]
        artefacts.append(
            seal_command(key, cmd, root, f"{ident}/{name}.dump.sealed", conn.env(), database=name)
        )
    return Backup(
        id=ident,
        kind="logical",
        started_at=iso(started),
        finished_at=iso(utc_now()),
        key_id=key_id(key).hex(),
        server_version=query(conn, "SHOW server_version"),
        artefacts=artefacts,
    )


def restore(root: Path, key: bytes, backup: Backup, database: str, target: Conn) -> None:
    """Restore `database` from `backup` into the server `target` points at (as `database`;
    it must not exist yet, so a restore never mixes with live data)."""
    if not DATABASE_NAME.match(database):
        raise ValueError(f"{database!r} is not a service database name")
    dumps = [a for a in backup.artefacts if a.database == database]
    if not dumps:
        raise LookupError(f"backup {backup.id} has no dump of {database}")
    tool = pg_bin()
    admin = target.on("postgres")
    roles = next(a for a in backup.artefacts if a.name.endswith(GLOBALS))
    # Both artefacts are checked before the target is touched at all.
    check(root, roles)
    check(root, dumps[0])
    # Existing roles report "already exists"; that is expected on a server in use.
    feed_command(
        [str(tool / "psql"), "-X", "-q", *admin.args(), "-d", "postgres", "-f", "-"],
        open_artefact(key, root, roles),
        admin.env(),
    )
    # `database` matched DATABASE_NAME above: no quote can reach the SQL.
    sql = f"SELECT 1 FROM pg_database WHERE datname = '{database}'"  # noqa: S608  # nosec B608
    exists = query(admin, sql)
    if exists:
        raise FileExistsError(f"database {database} exists on the target; restore needs none")
    query(admin, f'CREATE DATABASE "{database}"')
    feed_command(
        [str(tool / "pg_restore"), *target.args(), "-d", database, "--exit-on-error"],
        open_artefact(key, root, dumps[0]),
        target.env(),
    )
