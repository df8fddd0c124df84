"""The backup metrics, in Prometheus text format, built from the catalog (the truth about
what succeeded) and the last failure: a node_exporter textfile and/or a Pushgateway push.

`backup_last_success_timestamp_seconds{kind}` is what the alert watches: its age is the age
of the newest backup a restore could use.
"""

from __future__ import annotations

import json
import os
import urllib.parse
import urllib.request
from pathlib import Path

from services.backup.catalog import Catalog, parse_time, utc_now

FAILURES = "last-failure.json"
JOB = "mtd_backup"


def record_failure(root: Path, kind: str) -> None:
    path = root / FAILURES
    data = json.loads(path.read_text()) if path.exists() else {}
    data[kind] = utc_now().timestamp()
    root.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def render(root: Path) -> str:
    catalog = Catalog(root)
    lines = [
        "# HELP backup_last_success_timestamp_seconds When the newest good backup finished.",
        "# TYPE backup_last_success_timestamp_seconds gauge",
    ]
    sizes, durations = [], []
    for kind in ("base", "logical"):
        try:
            newest = catalog.latest(kind)
        except LookupError:
            continue
        finished = parse_time(newest.finished_at)
        lines.append(
            f'backup_last_success_timestamp_seconds{{kind="{kind}"}} {finished.timestamp():.3f}'
        )
        took = (finished - parse_time(newest.started_at)).total_seconds()
        durations.append(f'backup_last_duration_seconds{{kind="{kind}"}} {took:.3f}')
        size = sum(a.bytes for a in newest.artefacts)
        sizes.append(f'backup_last_size_bytes{{kind="{kind}"}} {size}')
    lines += ["# HELP backup_last_duration_seconds How long the newest good backup took.",
              "# TYPE backup_last_duration_seconds gauge", *durations,
              "# HELP backup_last_size_bytes Stored (sealed) size of the newest good backup.",
              "# TYPE backup_last_size_bytes gauge", *sizes]  # fmt: skip
    failures = root / FAILURES
    if failures.exists():
        lines += [
            "# HELP backup_last_failure_timestamp_seconds When a backup last failed.",
            "# TYPE backup_last_failure_timestamp_seconds gauge",
        ]
        for kind, at in sorted(json.loads(failures.read_text()).items()):
            lines.append(f'backup_last_failure_timestamp_seconds{{kind="{kind}"}} {at:.3f}')
    archived = sorted((root / "wal").glob("*.json"), key=lambda p: p.stat().st_mtime)
    if archived:
        lines += [
            "# HELP backup_wal_last_archived_timestamp_seconds When WAL was last sealed.",
            "# TYPE backup_wal_last_archived_timestamp_seconds gauge",
            f"backup_wal_last_archived_timestamp_seconds {archived[-1].stat().st_mtime:.3f}",
        ]
    return "\n".join(lines) + "\n"


def write_textfile(path: Path, text: str) -> None:
    """Atomically, so the collector never reads half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def push(base_url: str, text: str, timeout: float = 10) -> None:
    parsed = urllib.parse.urlparse(base_url)
    if parsed.scheme not in {"http", "https"}:
        raise ValueError("BACKUP_PUSHGATEWAY_URL must be an http(s) URL")
    url = base_url.rstrip("/") + f"/metrics/job/{JOB}"
    request = urllib.request.Request(  # noqa: S310 - scheme checked above
        url, data=text.encode(), method="PUT", headers={"Content-Type": "text/plain"}
    )
    # The scheme was checked above: http(s) only, never file: or custom schemes.
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310  # nosec B310
        if response.status >= 300:
            raise RuntimeError(f"Pushgateway answered {response.status}")


def publish(root: Path, textfile: Path | None, pushgateway: str | None) -> str:
    text = render(root)
    if textfile is not None:
        write_textfile(textfile, text)
    if pushgateway:
        push(pushgateway, text)
    return text
