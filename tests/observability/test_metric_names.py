"""Rules and dashboards use only metrics the telemetry registry defines (or plans)."""

from __future__ import annotations

import pytest
import yaml

from tests.observability.promql import (
    BUILTIN_SERIES,
    exposed_names,
    metric_names,
    selector_labels,
)
from tests.observability.sources import REGISTRY_FILE, dashboard_exprs, dashboards, rules


def known_names() -> set[str]:
    registry = yaml.safe_load(REGISTRY_FILE.read_text())
    recorded = {r["record"] for r in rules() if "record" in r}
    return (
        exposed_names(registry["metrics"])
        | exposed_names(registry.get("planned_metrics") or {})
        | recorded
        | BUILTIN_SERIES
    )


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        (
            'sum by (service) (rate(http_server_requests_total{status=~"5..",x="a b"}[5m]))',
            {"http_server_requests_total"},
        ),
        (
            "a:b:c / on (slo) group_left () (1 - slo:objective:ratio)",
            {"a:b:c", "slo:objective:ratio"},
        ),
        ("histogram_quantile(0.95, sum(rate(x_bucket[1m] offset 1d)) by (le)) > 1e3", {"x_bucket"}),
        ("time() - max(foo) > 2 * 3600 and bar unless absent(baz)", {"foo", "bar", "baz"}),
        ('avg_over_time(x[1d:5m]) or vector(0) or {__name__="y"}', {"x"}),
    ],
)
def test_metric_names_reads_promql(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names


def test_planned_metrics_are_complete_and_do_not_shadow_existing_ones() -> None:
    registry = yaml.safe_load(REGISTRY_FILE.read_text())
    planned = registry["planned_metrics"]
    assert not set(planned) & set(registry["metrics"])
    for name, entry in planned.items():
        assert {"type", "unit", "labels", "description", "owner"} <= set(entry), name
        assert entry["type"] in {"counter", "gauge", "histogram"}, name
        assert not name.endswith(("_total", "_bucket", "_count", "_sum")), name


def test_rules_reference_only_registered_metrics() -> None:
    known = known_names()
    for rule in rules():
        unknown = metric_names(rule["expr"]) - known
        assert not unknown, f"{rule.get('alert') or rule.get('record')}: unknown {sorted(unknown)}"


def test_dashboards_reference_only_registered_metrics() -> None:
    known = known_names()
    for name, board in dashboards().items():
        for expr in dashboard_exprs(board):
            unknown = metric_names(expr) - known
            assert not unknown, f"{name}: {expr}: unknown {sorted(unknown)}"


def test_every_planned_metric_is_used_somewhere() -> None:
    """A planned metric nothing reads is a wish, not a plan."""
    registry = yaml.safe_load(REGISTRY_FILE.read_text())
    exprs = [r["expr"] for r in rules()]
    exprs += [e for board in dashboards().values() for e in dashboard_exprs(board)]
    used = set().union(*(metric_names(e) for e in exprs))
    for name, entry in registry["planned_metrics"].items():
        assert exposed_names({name: entry}) & used, f"planned metric {name} is not used"


# Labels a target adds to every series it exposes: Prometheus (`job`, `instance`), the
# chart's ServiceMonitor and `make observe` (`platform`, `component`, `namespace`, `pod`).
TARGET_LABELS = {"job", "instance", "platform", "component", "namespace", "pod"}


def test_selectors_use_only_the_labels_a_metric_has() -> None:
    registry = yaml.safe_load(REGISTRY_FILE.read_text())
    entries = {**registry["metrics"], **registry["planned_metrics"]}
    labels: dict[str, set[str]] = {}
    for name, entry in entries.items():
        for exposed in exposed_names({name: entry}):
            extra = {"le"} if exposed.endswith("_bucket") else set()
            labels[exposed] = set(entry["labels"]) | extra | TARGET_LABELS
    exprs = [r["expr"] for r in rules()]
    exprs += [e for board in dashboards().values() for e in dashboard_exprs(board)]
    checked = 0
    for expr in exprs:
        for metric, used in selector_labels(expr).items():
            if metric in labels:
                checked += 1
                assert used <= labels[metric], f"{metric}: no label {sorted(used - labels[metric])}"
    assert checked > 50


def test_selector_labels_reads_matchers() -> None:
    assert selector_labels('rate(x_total{a="1",b=~"{x}=y",c!="2"}[5m]) / y{d!~"e"}') == {
        "x_total": {"a", "b", "c"},
        "y": {"d"},
    }
