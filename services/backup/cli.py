"""`python -m services.backup backup|restore|list|verify|drill`."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from services.backup import base, drill, logical, metrics, wal
from services.backup.artefacts import ToolError, check, open_artefact
from services.backup.catalog import Catalog, parse_time
from services.backup.conninfo import Conn
from services.backup.crypto import IntegrityError, WrongKeyError, file_sha256
from services.backup.keys import BackupKeyError, new_key_text, parse_key
from services.backup.settings import BackupSettings
from services.backup.site import ARCHIVE_TIMEOUT_SECONDS
from services.common.settings import load_settings
from services.stack.embedded import free_port

# Wide enough off a terminal (CI logs, pipes) that ids and checksums are never cut.
WIDTH = None if sys.stdout.isatty() else 200
out = Console(highlight=False, width=WIDTH)
err = Console(stderr=True, highlight=False, width=WIDTH)
FAILURES = (ToolError, IntegrityError, WrongKeyError, BackupKeyError, LookupError, OSError)


def server_url(settings: BackupSettings) -> str:
    """BACKUP_DATABASE_URL, else DATABASE_URL, else the local stack's (make up)."""
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    if url := os.environ.get("DATABASE_URL"):
        return url
    stack_env = Path(os.environ.get("MTD_LOCAL_DIR", ".local")) / "stack.env"
    if stack_env.exists():
        for line in stack_env.read_text().splitlines():
            if line.startswith("DATABASE_URL="):
                return line.split("=", 1)[1]
    raise LookupError("no server to back up: set BACKUP_DATABASE_URL or run `make up`")


def cmd_backup(settings: BackupSettings, args: argparse.Namespace) -> int:
    key, root = settings.key(), settings.dir
    conn = Conn.from_url(server_url(settings))
    catalog = Catalog(root)
    kinds = ("base", "logical") if args.kind == "all" else (args.kind,)
    failed = False
    for kind in kinds:
        try:
            if kind == "base":
                backup = base.take(root, key, conn)
            else:
                backup = logical.take(root, key, conn, settings.databases or None)
        except ToolError as exc:
            metrics.record_failure(root, kind)
            err.print(f"[red]{kind} backup failed[/red]: {exc}")
            failed = True
            continue
        catalog.add(backup)
        size = sum(a.bytes for a in backup.artefacts)
        out.print(f"{backup.id}: {len(backup.artefacts)} artefact(s), {size:,} bytes sealed")
    metrics.publish(root, settings.metrics_file, settings.pushgateway_url)
    return 1 if failed else 0


def cmd_restore(settings: BackupSettings, args: argparse.Namespace) -> int:
    key, root = settings.key(), settings.dir
    catalog = Catalog(root)
    if args.database:
        backup = catalog.get(args.backup) if args.backup else catalog.latest("logical")
        target = Conn.from_url(args.target_url or server_url(settings))
        logical.restore(root, key, backup, args.database, target)
        out.print(f"restored {args.database} from {backup.id}")
        return 0
    target_time = parse_time(args.target_time) if args.target_time else None
    backup = catalog.get(args.backup) if args.backup else catalog.latest("base", before=target_time)
    archive = None if args.no_wal else root / "wal"
    server = base.restore(
        root, key, backup, args.to.resolve(), args.port or free_port(),
        archive=archive, target_time=target_time,
    )  # fmt: skip
    out.print(f"restored {backup.id} into {server.datadir}; running at {server.url}")
    out.print(f"stop it with: {server.bin / 'pg_ctl'} -D {server.datadir} stop")
    return 0


def cmd_list(settings: BackupSettings, args: argparse.Namespace) -> int:
    table = Table("id", "kind", "finished (UTC)", "artefacts", "sealed bytes", "key id")
    for b in Catalog(settings.dir).backups():
        size = sum(a.bytes for a in b.artefacts)
        table.add_row(b.id, b.kind, b.finished_at, str(len(b.artefacts)), f"{size:,}", b.key_id)
    out.print(table)
    wal = sorted(p.name.removesuffix(".json") for p in (settings.dir / "wal").glob("*.json"))
    segments = [n for n in wal if len(n) == 24]
    if segments:
        out.print(f"WAL archive: {len(segments)} files, {segments[0]} … {segments[-1]}")
    return 0


def cmd_verify(settings: BackupSettings, args: argparse.Namespace) -> int:
    """Check every artefact and archived WAL file against its recorded SHA-256; with
    --deep, also open each one (every frame authenticates with the configured key)."""
    root, bad = settings.dir, 0
    key = settings.key() if args.deep else None
    for b in Catalog(root).backups():
        for artefact in b.artefacts:
            try:
                if key is None:
                    check(root, artefact)
                else:
                    for _ in open_artefact(key, root, artefact):
                        pass
            except (IntegrityError, WrongKeyError) as exc:
                bad += 1
                err.print(f"[red]BAD[/red] {b.id}: {exc}")
    for index in sorted((root / "wal").glob("*.json")):
        entry = json.loads(index.read_text())
        sealed = index.with_suffix(".enc")
        if not sealed.exists() or file_sha256(sealed) != entry["sha256"]:
            bad += 1
            err.print(f"[red]BAD[/red] WAL {entry['name']} fails its SHA-256 checksum")
    out.print("all artefacts verify" if not bad else f"{bad} artefact(s) fail")
    return 1 if bad else 0


def cmd_drill(settings: BackupSettings, args: argparse.Namespace) -> int:
    # Synthetic data under a key made for this drill alone and never written down.
    key = parse_key(new_key_text())
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="mtd-dr-drill-"))
    started = time.monotonic()

    def say(message: str) -> None:
        err.print(f"[{time.monotonic() - started:6.1f}s] {message}")

    report = asyncio.run(
        drill.run(
            workdir, key, returns=args.returns, write_seconds=args.write_seconds,
            archive_timeout=args.archive_timeout, keep=args.keep, say=say,
        )
    )  # fmt: skip
    data = report.as_dict()
    if args.report:
        Path(args.report).write_text(json.dumps(data, indent=2, default=str) + "\n")
    table = Table("measure", "value", title="DR drill")
    for name in (
        "returns", "audit_records", "load_seconds", "base_backup_seconds",
        "base_backup_bytes", "logical_backup_seconds", "writer_commits", "restore_seconds",
        "verify_seconds", "rto_seconds", "rpo_seconds", "rpo_bound_seconds",
        "last_commit_before_loss",
        "newest_commit_after_restore", "archive_timeout_seconds",
    ):  # fmt: skip
        table.add_row(name, str(data[name]))
    table.add_row("returns per state", json.dumps(data["restored"]["states"]))
    table.add_row("audit chain", "valid" if data["restored"]["audit_chain_ok"] else "BROKEN")
    out.print(table)
    for problem in report.problems:
        err.print(f"[red]FAIL[/red] {problem}")
    out.print("drill passed" if report.passed else "[red]drill failed[/red]")
    return 0 if report.passed else 1


def cmd_wal_agent(settings: BackupSettings, args: argparse.Namespace) -> int:
    """Seal what the server spools (archive_command = wal.spool_command) until SIGTERM."""
    agent = wal.Agent(args.spool, settings.dir / "wal", settings.key())
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    agent.start()
    out.print(f"sealing WAL from {args.spool} into {settings.dir / 'wal'}")
    while not stopping.wait(1.0):
        if agent.error is not None:
            break
    agent.stop()
    if agent.error is not None:
        err.print(f"[red]wal-agent failed[/red]: {agent.error}")
        return 1
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m services.backup", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    b = sub.add_parser("backup", help="take a base backup and/or logical dumps")
    b.add_argument("--kind", choices=("all", "base", "logical"), default="all")
    r = sub.add_parser("restore", help="restore to a fresh server (or one database)")
    r.add_argument("--to", type=Path, help="new data directory for a physical restore")
    r.add_argument("--port", type=int, help="port for the restored server (default: free)")
    r.add_argument("--target-time", help="recover to this instant (ISO 8601, with zone)")
    r.add_argument("--backup", help="catalog id (default: newest suitable)")
    r.add_argument("--no-wal", action="store_true", help="the base backup alone, no replay")
    r.add_argument("--database", help="logical restore of this database instead")
    r.add_argument("--target-url", help="server for a logical restore")
    sub.add_parser("list", help="show the catalog and the WAL archive")
    v = sub.add_parser("verify", help="check every artefact's checksum")
    v.add_argument("--deep", action="store_true", help="also decrypt (needs the key)")
    d = sub.add_parser("drill", help="load, back up, destroy, restore, verify; RTO and RPO")
    d.add_argument("--returns", type=int, default=100_000)
    d.add_argument("--write-seconds", type=float, help="default: archive timeout + 15")
    d.add_argument("--archive-timeout", type=int, default=ARCHIVE_TIMEOUT_SECONDS)
    d.add_argument("--workdir", help="scratch directory (default: a new temporary one)")
    d.add_argument("--keep", action="store_true", help="keep the scratch directory")
    d.add_argument("--report", help="also write the report as JSON here")
    a = sub.add_parser("wal-agent", help="seal spooled WAL into the archive until stopped")
    a.add_argument("--spool", type=Path, required=True)
    return p


COMMANDS = {
    "backup": cmd_backup,
    "restore": cmd_restore,
    "list": cmd_list,
    "verify": cmd_verify,
    "drill": cmd_drill,
    "wal-agent": cmd_wal_agent,
}


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "restore" and not (args.database or args.to):
        parser().error("restore needs --to DIR (physical) or --database NAME (logical)")
    settings = load_settings(BackupSettings)
    try:
        return COMMANDS[args.command](settings, args)
    except FAILURES as exc:
        err.print(f"[red]{args.command} failed[/red]: {exc}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
