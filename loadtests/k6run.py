"""Running k6 on the prepared returns, and reading back what it measured."""

from __future__ import annotations

import csv
import gzip
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from loadtests.provision import Tenant
from loadtests.workload import Item, Profile, k6_scenarios, thresholds

SCRIPT = Path(__file__).parent / "k6" / "deadline.js"


def k6_binary() -> str:
    beside = Path(sys.executable).parent / "k6"
    return str(beside) if beside.exists() else "k6"


def write_config(
    path: Path, p: Profile, env: dict[str, str], tenants: list[Tenant], items: list[Item]
) -> None:
    """The script's input. It holds the tenants' client secrets, so it is written owner-only
    and outside the results directory."""
    items_path = path.with_name("k6-items.json")
    config = {
        "authUrl": env["AUTH_URL"],
        "submissionUrl": env["SUBMISSION_URL"],
        "tenants": [{"clientId": t.client_id, "clientSecret": t.client_secret} for t in tenants],
        "scenarios": k6_scenarios(p),
        "thresholds": thresholds(p),
        "itemsPath": str(items_path),
    }
    path.touch(mode=0o600)
    path.write_text(json.dumps(config))
    items_path.write_text(json.dumps([item.as_k6() for item in items]))


@dataclass
class K6Result:
    exit_code: int
    summary: dict[str, Any]
    samples: list[tuple[float, float, str]]  # (unix time sent, submit latency ms, kind)


def run_k6(config: Path, out_dir: Path, log: Path) -> K6Result:
    summary_path = out_dir / "k6-summary.json"
    samples_path = out_dir / "k6-samples.csv.gz"
    # K6_VUS / K6_DURATION / K6_STAGES would override the script's scenarios.
    env = {k: v for k, v in os.environ.items() if k not in ("K6_VUS", "K6_DURATION", "K6_STAGES")}
    env |= {
        "K6_CSV_TIME_FORMAT": "unix_milli",
        "LOAD_CONFIG": str(config),
        "SUMMARY_PATH": str(summary_path),
        "K6_NO_USAGE_REPORT": "true",
    }
    with log.open("wb") as out:
        proc = subprocess.run(  # noqa: S603 - the k6 binary installed beside this interpreter
            [
                k6_binary(),
                "run",
                "--quiet",
                "--no-color",
                "--out",
                f"csv={samples_path}",
                str(SCRIPT),
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
        )
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    return K6Result(proc.returncode, summary, read_samples(samples_path))


def read_samples(path: Path) -> list[tuple[float, float, str]]:
    """Submit latencies from k6's CSV output, with the time each request was sent (k6
    stamps a sample when the response has arrived)."""
    if not path.exists():
        return []
    out: list[tuple[float, float, str]] = []
    with gzip.open(path, "rt", newline="") as f:
        for row in csv.DictReader(f):
            if row.get("metric_name") != "http_req_duration":
                continue
            tags = dict(parse_qsl(row.get("extra_tags") or ""))
            if tags.get("endpoint") != "submit":
                continue
            stamp = float(row["timestamp"])
            ms = float(row["metric_value"])
            ended = stamp / 1000 if stamp > 1e11 else stamp
            out.append((ended - ms / 1000, ms, tags.get("kind", "")))
    return out


def metric(summary: dict[str, Any], name: str, stat: str, default: float = 0.0) -> float:
    values = summary.get("metrics", {}).get(name, {}).get("values", {})
    return float(values.get(stat, default))


def threshold_results(summary: dict[str, Any]) -> dict[str, bool]:
    """{"metric: condition": passed} for every threshold the script set."""
    out: dict[str, bool] = {}
    for name, m in summary.get("metrics", {}).items():
        for condition, result in (m.get("thresholds") or {}).items():
            out[f"{name}: {condition}"] = bool(result.get("ok"))
    return out
