"""Ingress routing of the public API, ServiceMonitor, PrometheusRule and dashboards."""

from __future__ import annotations

import json
import re

import yaml

from tests.charts.cases import ALL_ON
from tests.charts.chart import CHART, fullname, render

# docs/DESIGN.md "Public API": a request path and the service that must answer it.
PUBLIC_PATHS = {
    "/v1/auth/token": "auth",
    "/v1/auth/jwks.json": "auth",
    "/v1/tenants/t1/clients": "auth",
    "/v1/connections/callback": "auth",
    "/v1/break-glass/grants": "auth",
    "/v1/platform/users": "auth",
    "/v1/vat/123456789/obligations": "obligations",
    "/v1/vat/123456789/liabilities": "obligations",
    "/v1/vat/123456789/payments": "obligations",
    "/v1/obligations/due": "obligations",
    "/v1/vat/123456789/returns": "submission",
    "/v1/vat/123456789/returns/by-period/18A1": "submission",
    "/v1/status": "submission",
    "/v1/audit/events": "audit",
    "/v1/audit/verify": "audit",
}
NOT_PUBLIC = [
    "/healthz",
    "/readyz",
    "/metrics",
    "/openapi.json",
    "/oauth/token",
    "/organisations/vat/1",
    "/internal/v1/break-glass/uses",
]


def route(paths: list[dict[str, object]], request_path: str) -> set[str]:
    """Backends an ingress-nginx with use-regex would consider for `request_path`."""
    hits = set()
    for p in paths:
        pattern = str(p["path"])
        if p["pathType"] == "Prefix":
            ok = request_path == pattern or request_path.startswith(pattern.rstrip("/") + "/")
        else:
            ok = re.match(pattern, request_path) is not None
        if ok:
            backend = p["backend"]
            assert isinstance(backend, dict)
            hits.add(backend["service"]["name"])
    return hits


def test_ingress_routes_each_public_path_to_its_service() -> None:
    r = render({})
    (ingress,) = r.kind("Ingress")
    paths = ingress["spec"]["rules"][0]["http"]["paths"]
    for request_path, service in PUBLIC_PATHS.items():
        assert route(paths, request_path) == {fullname(service)}, request_path
    for request_path in NOT_PUBLIC:
        assert route(paths, request_path) == set(), request_path
    for p in paths:
        assert p["pathType"] != "Prefix" or not re.search(r"[\[\]()+*?|]", p["path"])
        r.named("Service", p["backend"]["service"]["name"])


def test_ingress_tls_and_host() -> None:
    r = render({"ingress": {"host": "api.example.test", "tlsSecretName": "api-tls"}})
    (ingress,) = r.kind("Ingress")
    assert ingress["spec"]["tls"] == [{"hosts": ["api.example.test"], "secretName": "api-tls"}]
    assert ingress["spec"]["rules"][0]["host"] == "api.example.test"
    auth = r.named("ConfigMap", fullname("auth"))["data"]
    assert auth["AUTH_PUBLIC_URL"] == "https://api.example.test"
    assert render({"ingress": {"enabled": False}}).kind("Ingress") == []


def test_service_monitor_scrapes_every_service() -> None:
    r = render(ALL_ON)
    (sm,) = r.kind("ServiceMonitor")
    (endpoint,) = sm["spec"]["endpoints"]
    assert endpoint["path"] == "/metrics" and endpoint["port"] == "http"
    assert endpoint["honorLabels"] is True
    for svc in r.kind("Service"):
        assert all(
            svc["metadata"]["labels"][k] == v
            for k, v in sm["spec"]["selector"]["matchLabels"].items()
        )
        assert [p["name"] for p in svc["spec"]["ports"]] == ["http"]
    assert render({}).kind("ServiceMonitor") == []


def test_prometheus_rule_includes_the_shipped_rule_files() -> None:
    assert render({}).kind("PrometheusRule") == []
    extra = {"name": "extra", "rules": [{"record": "x:y", "expr": "vector(1)"}]}
    r = render({"metrics": {"prometheusRule": {"enabled": True, "extraGroups": [extra]}}})
    (rule,) = r.kind("PrometheusRule")
    groups = rule["spec"]["groups"]
    names = [g["name"] for g in groups]
    # The shipped groups (copies of deploy/prometheus/rules/, tests/observability checks
    # they are identical), in file order, then extraGroups.
    shipped = [
        g["name"]
        for path in sorted((CHART / "files" / "prometheus-rules").glob("*.yaml"))
        for g in yaml.safe_load(path.read_text())["groups"]
    ]
    assert "mtd-vat-availability" in shipped
    assert names == [*shipped, "extra"]
    availability = groups[names.index("mtd-vat-availability")]["rules"]
    assert any(re.search(r"\bup\{[^}]*\}\s*==\s*0", rr["expr"]) for rr in availability)
    for rr in availability:
        assert rr["labels"]["severity"] in {"warning", "critical"}
        text = json.dumps(rr)
        # Prometheus templates survive Helm untouched; no chart placeholders are left.
        assert "{{ $labels." in text
        assert ".Values" not in text and ".Release" not in text and "TODO" not in text
    # The label the rules select on is the one the ServiceMonitor puts on every target.
    sm = render(ALL_ON).kind("ServiceMonitor")[0]
    relabel = sm["spec"]["endpoints"][0]["relabelings"]
    assert {"targetLabel": "platform", "replacement": "mtd-vat"} in relabel
    assert 'platform="mtd-vat"' in availability[0]["expr"]


def test_dashboards_show_the_red_metrics() -> None:
    assert render({}).kind("ConfigMap") == [
        c for c in render({}).kind("ConfigMap") if "dashboard" not in c["metadata"]["name"]
    ]
    r = render({"grafana": {"dashboards": {"enabled": True}}})
    boards = [
        c for c in r.kind("ConfigMap") if c["metadata"]["labels"].get("grafana_dashboard") == "1"
    ]
    assert len(boards) == len(list((CHART / "files" / "dashboards").glob("*.json")))
    (red,) = [b for b in boards if "red.json" in b["data"]]
    board = json.loads(red["data"]["red.json"])
    exprs = " ".join(t["expr"] for p in board["panels"] for t in p["targets"])
    assert "http_server_requests_total" in exprs
    assert "http_server_request_duration_seconds_bucket" in exprs
    assert 'status=~"5.."' in exprs
    assert "histogram_quantile(0.95" in exprs
    assert len({p["id"] for p in board["panels"]}) == len(board["panels"])
