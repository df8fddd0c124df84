"""Grafana dashboards: an overview with every section, one per service, well formed."""

from __future__ import annotations

from tests.charts.chart import ALL_SERVICES
from tests.observability.sources import dashboards, panels

OVERVIEW_ROWS = {
    "Synthetic health and SLOs",
    "Business",
    "RED across services",
    "HMRC upstream",
    "Submission queue and deadlines",
    "Alert status",
}


def test_overview_has_every_section() -> None:
    board = dashboards()["overview.json"]
    rows = {p["title"] for p in board["panels"] if p["type"] == "row"}
    assert rows >= OVERVIEW_ROWS
    exprs = " ".join(t["expr"] for p in panels(board) for t in p.get("targets", []))
    for metric in (
        "canary_last_success_timestamp_seconds",
        "submissions_total",
        "auth_signups_total",
        "auth_hmrc_authorisations_total",
        "http_server_requests_total",
        "hmrc_gateway_hmrc_requests_total",
        "hmrc_gateway_breaker_state",
        "submission_queue_depth",
        "submission_queue_oldest_age_seconds",
        "submission_deadline_risk_returns",
        "ALERTS",
    ):
        assert metric in exprs, metric


def test_one_dashboard_per_service() -> None:
    boards = dashboards()
    for service in ALL_SERVICES:
        name = f"{service.replace('_', '-')}.json"
        assert name in boards, name
        board = boards[name]
        exprs = " ".join(t["expr"] for p in panels(board) for t in p.get("targets", []))
        assert f'service="{service}"' in exprs, name


def test_dashboards_are_well_formed() -> None:
    uids = [b["uid"] for b in dashboards().values()]
    assert len(uids) == len(set(uids))
    for name, board in dashboards().items():
        assert board["title"] and "mtd-vat" in board["tags"], name
        variables = {v["name"] for v in board["templating"]["list"]}
        assert "datasource" in variables, name
        ids = [p["id"] for p in panels(board)]
        assert len(ids) == len(set(ids)), name
        for panel in panels(board):
            pos = panel["gridPos"]
            assert pos["x"] >= 0 and pos["x"] + pos["w"] <= 24, (name, panel["title"])
            if panel["type"] == "row":
                continue
            assert panel["datasource"]["uid"] == "${datasource}", (name, panel["title"])
            assert panel["targets"], (name, panel["title"])
            refs = [t["refId"] for t in panel["targets"]]
            assert len(refs) == len(set(refs)), (name, panel["title"])
