"""The canary's metrics and how they leave the process.

A CronJob run lives shorter than a scrape, so it pushes to a Pushgateway (job="canary")
and/or writes a node-exporter textfile; loop mode (`--every`) serves /metrics instead. A
failed run never pushes `canary_last_success_timestamp_seconds`: the previous success
stays on the Pushgateway, and the alert measures the time since it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    pushadd_to_gateway,
    write_to_textfile,
)
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

JOB = "canary"

LAST_SUCCESS_NAME = "canary_last_success_timestamp_seconds"
LAST_SUCCESS = Gauge(
    LAST_SUCCESS_NAME,
    "Unix time of the canary's last fully successful run.",
)
DURATION = Histogram(
    "canary_run_duration_seconds",
    "Wall-clock time of one canary run, successful or not.",
    buckets=(1, 2.5, 5, 10, 20, 30, 60, 120, 240),
)
RUNS = Counter("canary_runs", "Canary runs by outcome (success, failure).", ["outcome"])
for _outcome in ("success", "failure"):
    RUNS.labels(_outcome)


def last_success() -> float:
    return float(LAST_SUCCESS._value.get())


def record(success: bool, seconds: float, now: float | None = None) -> None:
    DURATION.observe(seconds)
    RUNS.labels("success" if success else "failure").inc()
    if success:
        LAST_SUCCESS.set(now if now is not None else time.time())


def _only(*collectors: Collector) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=True)
    for collector in collectors:
        registry.register(collector)
    return registry


def _run_metrics(success: bool) -> CollectorRegistry:
    """What this run may publish: the last-success time only when it has one."""
    return _only(RUNS, DURATION, LAST_SUCCESS) if success else _only(RUNS, DURATION)


def push(gateway: str, success: bool) -> None:
    # POST (pushadd) replaces only the metrics sent, keeping an earlier success's timestamp.
    pushadd_to_gateway(gateway, job=JOB, registry=_run_metrics(success), timeout=10)


def previous_success(path: Path) -> float | None:
    """The last-success time an earlier run (another process) wrote to `path`."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == LAST_SUCCESS_NAME:
                return float(sample.value)
    return None


def write_textfile(path: Path, success: bool) -> None:
    """Write atomically; a failed run carries the previous file's last success over."""
    if not success and (earlier := previous_success(path)) is not None:
        LAST_SUCCESS.set(max(earlier, last_success()))
    registry = _run_metrics(success or last_success() > 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_to_textfile(str(path), registry)
    os.chmod(path, 0o644)  # read by node-exporter, another user
