"""The chart ships exactly the rules and dashboards kept under deploy/.

Helm reads only files inside the chart, so charts/mtd-vat/files/ holds copies. After
changing deploy/prometheus/rules/ or deploy/grafana/dashboards/, copy them:

    cp deploy/prometheus/rules/*.yaml charts/mtd-vat/files/prometheus-rules/
    cp deploy/grafana/dashboards/*.json charts/mtd-vat/files/dashboards/
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.charts.chart import render
from tests.observability.sources import CHART_FILES, DASHBOARDS_DIR, RULES_DIR, rule_groups

COPIES = [
    (RULES_DIR, CHART_FILES / "prometheus-rules", "*.yaml"),
    (DASHBOARDS_DIR, CHART_FILES / "dashboards", "*.json"),
]


@pytest.mark.parametrize(("source", "copy", "pattern"), COPIES, ids=["rules", "dashboards"])
def test_chart_files_are_identical_copies(source: Path, copy: Path, pattern: str) -> None:
    ours = {p.name: p.read_bytes() for p in source.glob(pattern)}
    theirs = {p.name: p.read_bytes() for p in copy.glob(pattern)}
    assert sorted(theirs) == sorted(ours), f"{copy} and {source} hold different files"
    for name, content in ours.items():
        assert theirs[name] == content, f"{copy / name} differs from {source / name}"


def test_rendered_prometheus_rule_holds_the_rule_groups_unchanged() -> None:
    r = render({"metrics": {"prometheusRule": {"enabled": True}}})
    (rule,) = r.kind("PrometheusRule")
    assert rule["spec"]["groups"] == rule_groups()


def test_rendered_dashboards_are_the_files() -> None:
    r = render({"grafana": {"dashboards": {"enabled": True}}})
    data: dict[str, str] = {}
    for cm in r.kind("ConfigMap"):
        if cm["metadata"]["labels"].get("grafana_dashboard") == "1":
            data.update(cm["data"])
    files = {p.name: json.loads(p.read_text()) for p in DASHBOARDS_DIR.glob("*.json")}
    assert {name: json.loads(text) for name, text in data.items()} == files
    assert yaml.safe_load(json.dumps(files))  # JSON survives as YAML block text too
