"""Where the observability sources live, and the tools that check them."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
RULES_DIR = ROOT / "deploy" / "prometheus" / "rules"
RULE_TESTS_DIR = ROOT / "deploy" / "prometheus" / "tests"
DASHBOARDS_DIR = ROOT / "deploy" / "grafana" / "dashboards"
ALERTMANAGER_CONFIG = ROOT / "deploy" / "alertmanager" / "alertmanager.yml"
REGISTRY_FILE = ROOT / "deploy" / "telemetry" / "registry.yaml"
RUNBOOKS_DIR = ROOT / "docs" / "runbooks"
CHART_FILES = ROOT / "charts" / "mtd-vat" / "files"

RULE_FILES = sorted(RULES_DIR.glob("*.yaml"))
RULE_TEST_FILES = sorted(RULE_TESTS_DIR.glob("*.yaml"))
DASHBOARD_FILES = sorted(DASHBOARDS_DIR.glob("*.json"))


def tool(name: str) -> str:
    """The path of a Prometheus tool. Missing is a failure, never a skip: `make test`
    installs Debian's prometheus and prometheus-alertmanager when run as root."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} not found: apt-get install -y prometheus prometheus-alertmanager")
    return path


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False, timeout=120)


def rule_groups() -> list[dict[str, Any]]:
    groups: list[dict[str, Any]] = []
    for path in RULE_FILES:
        groups.extend(yaml.safe_load(path.read_text())["groups"])
    return groups


def rules() -> list[dict[str, Any]]:
    return [rule for group in rule_groups() for rule in group["rules"]]


def alerts() -> list[dict[str, Any]]:
    return [rule for rule in rules() if "alert" in rule]


def dashboards() -> dict[str, dict[str, Any]]:
    return {path.name: json.loads(path.read_text()) for path in DASHBOARD_FILES}


def panels(board: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for panel in board["panels"]:
        out.append(panel)
        out.extend(panel.get("panels", []))  # a collapsed row holds its panels
    return out


def dashboard_exprs(board: dict[str, Any]) -> list[str]:
    """Every PromQL expression of a dashboard: panel targets and templating queries (the
    metric selector inside `label_values(...)`)."""
    exprs = [t["expr"] for p in panels(board) for t in p.get("targets", []) if t.get("expr")]
    for var in board.get("templating", {}).get("list", []):
        if var.get("type") != "query":
            continue
        query = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
        match = re.fullmatch(r"\s*label_values\((.*),\s*\w+\s*\)\s*", query)
        if match:
            exprs.append(match.group(1))
        elif not re.fullmatch(r"\s*label_values\(\s*\w+\s*\)\s*", query):
            exprs.append(query)
    return exprs


# Grafana's variables, replaced by something PromQL accepts so that promtool can parse it.
GRAFANA_VARIABLES = {
    "$__rate_interval": "5m",
    "$__interval": "1m",
    "$__range": "1h",
}


def as_promql(expr: str) -> str:
    for var, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(var, value)
    return re.sub(r"\$\{?\w+\}?", ".*", expr)
