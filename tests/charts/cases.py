"""The values matrix every rendering test runs over: defaults, the shipped values files, and
every toggle switched on and off."""

from __future__ import annotations

from typing import Any

from tests.charts.chart import VALUES_FILES, load_values

ALL_ON: dict[str, Any] = {
    "services": {"hmrc_sandbox": {"enabled": True}},
    "ingress": {"enabled": True, "host": "api.example.test", "tlsSecretName": "api-tls"},
    "networkPolicy": {"enabled": True},
    "metrics": {"serviceMonitor": {"enabled": True}, "prometheusRule": {"enabled": True}},
    "grafana": {"dashboards": {"enabled": True}},
    "migrations": {"enabled": True},
    "canary": {"enabled": True},
    "otel": {"endpoint": "http://otel-collector.observability:4318"},
    "defaults": {"autoscaling": {"enabled": True}},
}
ALL_OFF: dict[str, Any] = {
    "services": {"hmrc_sandbox": {"enabled": False}},
    "ingress": {"enabled": False},
    "networkPolicy": {"enabled": False},
    "metrics": {"serviceMonitor": {"enabled": False}, "prometheusRule": {"enabled": False}},
    "grafana": {"dashboards": {"enabled": False}},
    "migrations": {"enabled": False},
    "canary": {"enabled": False},
    "otel": {"endpoint": ""},
    "defaults": {"autoscaling": {"enabled": False}},
}
TOGGLES: dict[str, dict[str, Any]] = {
    "simulator": {"services": {"hmrc_sandbox": {"enabled": True}}},
    "no-ingress": {"ingress": {"enabled": False}},
    "no-networkpolicy": {"networkPolicy": {"enabled": False}},
    "servicemonitor": {"metrics": {"serviceMonitor": {"enabled": True}}},
    "prometheusrule": {"metrics": {"prometheusRule": {"enabled": True}}},
    "dashboards": {"grafana": {"dashboards": {"enabled": True}}},
    "no-migrations": {"migrations": {"enabled": False}},
    "canary": {"canary": {"enabled": True}},
    "otel": {"otel": {"endpoint": "http://otel-collector.observability:4318"}},
    "no-autoscaling": {"defaults": {"autoscaling": {"enabled": False}}},
    "digest": {"image": {"digest": "sha256:" + "ab" * 32}},
    "vault": {"vault": {"enabled": True, "address": "https://vault.vault.svc:8200"}},
    "all-on": ALL_ON,
    "all-off": ALL_OFF,
}

CASES: dict[str, dict[str, Any]] = {
    "defaults": {},
    **{f"file:{path.name}": load_values(path) for path in VALUES_FILES},
    **TOGGLES,
}
