"""Every metric in the telemetry registry is exported by a running process, and the ones an
end-to-end run exercises have moved: scraped from each service's (and the canary's)
/metrics after the shared run."""

from __future__ import annotations

import time

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.observability.conftest import CanaryLoop, EndToEnd
from tests.observability.metrics_text import Samples, parse, value
from tests.observability.sources import REGISTRY_FILE
from tests.observability.test_canary import scrape_until_success

REGISTRY = yaml.safe_load(REGISTRY_FILE.read_text())
# Backup metrics come from the backup job, not from the running stack: tests/backup/test_cli.py
# checks their values after a real backup.
METRICS: dict[str, dict[str, object]] = {
    name: spec for name, spec in REGISTRY["metrics"].items() if spec["owner"] != "backup"
}

# Series that stay at 0 in a healthy run (a backlog, a lag, an open breaker, a timeout):
# each must be exported, and its moving is the business of the drills and unit tests.
QUIET_WHEN_HEALTHY = {
    "outbox_backlog_events",
    "outbox_oldest_event_age_seconds",
    "messaging_consumer_pending_messages",
    "hmrc_gateway_governor_timeouts",
    "hmrc_gateway_governor_pauses",
    "hmrc_gateway_breaker_state",
    "hmrc_gateway_breaker_transitions",
    "submission_queue_depth",
    "submission_queue_oldest_age_seconds",
    "submission_deadline_risk_returns",
    "audit_consumer_lag_seconds",
}
# Label values the run makes move, where one series is not enough.
MOVED_LABELS: dict[str, list[dict[str, str]]] = {
    "auth_failures": [
        {"kind": k} for k in ("client_credentials", "password", "totp", "token", "hmrc_callback")
    ],
    "auth_signups": [{"kind": k} for k in ("tenant", "api_client", "user")],
    "auth_hmrc_authorisations": [{"outcome": o} for o in ("granted", "denied", "failed")],
    "nats_stream_messages": [{"stream": "AUDIT"}, {"stream": "SUBMISSIONS"}],
    "submissions": [{"outcome": "received"}, {"outcome": "accepted"}],
    "canary_runs": [{"outcome": "success"}],
}
# The samplers report every 5 s (consumers, relay) and 15 s (submission queue).
SAMPLER_PERIOD = 16


@pytest.fixture(scope="module")
def exposition(end_to_end: EndToEnd, canary_loop: CanaryLoop) -> tuple[dict[str, str], Samples]:
    scrape_until_success(canary_loop.metrics_url)
    time.sleep(SAMPLER_PERIOD)
    env = end_to_end.stack.env
    urls = [v for k, v in env.items() if k.endswith("_URL") and v.startswith("http")]
    families: dict[str, str] = {}
    samples: Samples = {}
    for url in [f"{u}/metrics" for u in urls] + [canary_loop.metrics_url]:
        text = httpx.get(url, timeout=10).text
        for family in text_string_to_metric_families(text):
            families[family.name] = family.type
        for key, v in parse(text).items():
            samples[key] = samples.get(key, 0.0) + v
    return families, samples


def main_series(name: str) -> str:
    kind = METRICS[name]["type"]
    return {"counter": f"{name}_total", "histogram": f"{name}_count"}.get(str(kind), name)


@pytest.mark.parametrize("name", sorted(METRICS))
def test_registry_metric_is_exported(exposition: tuple[dict[str, str], Samples], name: str) -> None:
    families, _ = exposition
    assert name in families, f"{name} is in the registry but no process exports it"
    assert families[name] == METRICS[name]["type"]


@pytest.mark.parametrize("name", sorted(set(METRICS) - QUIET_WHEN_HEALTHY))
def test_registry_metric_moved_in_the_run(
    exposition: tuple[dict[str, str], Samples], name: str
) -> None:
    _, samples = exposition
    for labels in MOVED_LABELS.get(name, [{}]):
        assert value(samples, main_series(name), **labels) > 0, (name, labels)


def test_nothing_is_left_planned() -> None:
    assert not REGISTRY.get("planned_metrics"), "planned metrics are not exported yet"
