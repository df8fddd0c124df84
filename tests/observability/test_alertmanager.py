"""Alertmanager routing: e-mail, Slack and PagerDuty receivers, severity routes, no secrets."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.observability.sources import ALERTMANAGER_CONFIG, alerts, run, tool

SECRETS_DIR = "/etc/alertmanager/secrets/"
# Settings that would hold a secret if written inline; only their `_file` forms are allowed.
SECRET_KEYS = {
    "smtp_auth_password",
    "smtp_auth_secret",
    "auth_password",
    "auth_secret",
    "slack_api_url",
    "api_url",
    "routing_key",
    "service_key",
    "pagerduty_url",
    "password",
    "bearer_token",
    "credentials",
}


def config() -> dict[str, Any]:
    data = yaml.safe_load(ALERTMANAGER_CONFIG.read_text())
    assert isinstance(data, dict)
    return data


def walk(node: Any, path: str = "") -> list[tuple[str, Any]]:
    if isinstance(node, dict):
        return [kv for k, v in node.items() for kv in [(f"{path}.{k}", v), *walk(v, f"{path}.{k}")]]
    if isinstance(node, list):
        return [kv for i, v in enumerate(node) for kv in walk(v, f"{path}[{i}]")]
    return []


def test_amtool_accepts_the_config() -> None:
    result = run(tool("amtool"), "check-config", str(ALERTMANAGER_CONFIG))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (["severity=critical", "alertname=MtdVatSubmissionBacklogOverBudget"], "oncall-page"),
        (["severity=warning", "alertname=MtdVatDeadLetters"], "team-slack"),
        (["severity=info", "alertname=Anything"], "team-email"),
    ],
)
def test_routes_by_severity(labels: list[str], receiver: str) -> None:
    result = run(
        tool("amtool"), "config", "routes", "test", f"--config.file={ALERTMANAGER_CONFIG}", *labels
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [receiver]


def test_receivers_cover_email_slack_and_pagerduty() -> None:
    receivers = {r["name"]: r for r in config()["receivers"]}
    page = receivers["oncall-page"]
    assert page["pagerduty_configs"] and page["slack_configs"]
    assert receivers["team-slack"]["slack_configs"] and receivers["team-slack"]["email_configs"]
    assert receivers["team-email"]["email_configs"]
    routes = config()["route"]["routes"]
    by_severity = {r["matchers"][0]: r for r in routes}
    assert by_severity['severity="critical"']["receiver"] == "oncall-page"
    assert by_severity['severity="warning"']["receiver"] == "team-slack"
    # Every severity the rules use has a route.
    used = {f'severity="{a["labels"]["severity"]}"' for a in alerts()}
    assert used <= set(by_severity)


def test_backlog_alert_reaches_a_person_within_two_minutes() -> None:
    """30 s scrape + 30 s evaluation + `for` + Alertmanager's group_wait <= 2 minutes."""
    (backlog,) = [a for a in alerts() if a["alert"] == "MtdVatSubmissionBacklogOverBudget"]
    assert backlog["labels"]["severity"] == "critical"
    seconds = {"s": 1, "m": 60}
    pending = int(backlog["for"][:-1]) * seconds[backlog["for"][-1]]
    critical = next(
        r for r in config()["route"]["routes"] if r["matchers"] == ['severity="critical"']
    )
    wait = int(critical["group_wait"][:-1]) * seconds[critical["group_wait"][-1]]
    assert 30 + 30 + pending + wait <= 120


def test_no_secret_is_written_in_the_config() -> None:
    for path, value in walk(config()):
        key = path.rsplit(".", 1)[-1]
        assert key not in SECRET_KEYS, f"{path} holds a secret inline; use {key}_file"
        if key.endswith("_file"):
            assert isinstance(value, str) and value.startswith(SECRETS_DIR), path
    text = ALERTMANAGER_CONFIG.read_text()
    assert "hooks.slack.com" not in text and "events.pagerduty.com" not in text
