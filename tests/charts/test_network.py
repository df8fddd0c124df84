"""NetworkPolicy: default deny, and exactly the edges of docs/DESIGN.md between our pods."""

from __future__ import annotations

from itertools import product
from typing import Any

import pytest

from tests.charts.cases import CASES
from tests.charts.chart import PUBLIC_SERVICES, Obj, Rendered, component, fullname, render

DESIGN_EDGES = {
    ("hmrc_gateway", "auth"),
    ("obligations", "hmrc_gateway"),
    ("submission", "hmrc_gateway"),
    ("audit", "auth"),
    ("obligations", "auth"),
    ("submission", "auth"),
}
SIMULATOR_EDGES = {("auth", "hmrc_sandbox"), ("hmrc_gateway", "hmrc_sandbox")}
NETPOL_CASES = {k: v for k, v in CASES.items() if v.get("networkPolicy", {}).get("enabled", True)}


def pod_labels(r: Rendered, name: str) -> dict[str, str]:
    for owner, _ in r.pod_specs():
        template = owner["spec"].get("jobTemplate", {}).get("spec", owner["spec"])["template"]
        labels: dict[str, str] = template["metadata"]["labels"]
        if labels["app.kubernetes.io/component"] == component(name):
            return labels
    raise AssertionError(f"no pods for {name}")


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


def policies_for(r: Rendered, labels: dict[str, str], kind: str) -> list[Obj]:
    return [
        p
        for p in r.kind("NetworkPolicy")
        if selects(p["spec"]["podSelector"], labels) and kind in p["spec"]["policyTypes"]
    ]


def same_namespace_peer(peer: dict[str, Any], labels: dict[str, str]) -> bool:
    return (
        "podSelector" in peer
        and "namespaceSelector" not in peer
        and selects(peer["podSelector"], labels)
    )


def allowed(r: Rendered, src: str, dst: str) -> bool:
    a, b = pod_labels(r, src), pod_labels(r, dst)
    out = any(
        same_namespace_peer(peer, b)
        for p in policies_for(r, a, "Egress")
        for rule in p["spec"].get("egress", [])
        for peer in rule.get("to", [])
    )
    into = any(
        same_namespace_peer(peer, a)
        for p in policies_for(r, b, "Ingress")
        for rule in p["spec"].get("ingress", [])
        for peer in rule.get("from", [])
    )
    return out and into


@pytest.mark.parametrize("values", NETPOL_CASES.values(), ids=NETPOL_CASES.keys())
def test_only_design_edges_between_pods(values: dict[str, Any]) -> None:
    r = render(values)
    components = {
        o["metadata"]["labels"]["app.kubernetes.io/component"]
        for o in r.kind("NetworkPolicy")
        if "app.kubernetes.io/component" in o["metadata"]["labels"]
    }
    names = [
        n
        for n in (
            "auth",
            "hmrc_gateway",
            "obligations",
            "submission",
            "audit",
            "hmrc_sandbox",
            "canary",
            "migrate",
        )
        if component(n) in components
    ]
    expected = set(DESIGN_EDGES)
    if "hmrc_sandbox" in names:
        expected |= SIMULATOR_EDGES
    if "canary" in names:
        expected |= {("canary", s) for s in PUBLIC_SERVICES}
    actual = {(a, b) for a, b in product(names, names) if a != b and allowed(r, a, b)}
    assert actual == expected


@pytest.mark.parametrize("values", NETPOL_CASES.values(), ids=NETPOL_CASES.keys())
def test_default_deny_and_dependency_egress(values: dict[str, Any]) -> None:
    r = render(values)
    (deny,) = [
        p for p in r.kind("NetworkPolicy") if p["metadata"]["name"].endswith("-default-deny")
    ]
    assert deny["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert "ingress" not in deny["spec"] and "egress" not in deny["spec"]
    for owner, _ in r.pod_specs():
        template = owner["spec"].get("jobTemplate", {}).get("spec", owner["spec"])["template"]
        assert selects(deny["spec"]["podSelector"], template["metadata"]["labels"])
    simulator = bool(r.component("Deployment", "hmrc-sandbox"))
    for deployment in r.kind("Deployment"):
        name = deployment["metadata"]["name"]
        service = deployment["metadata"]["labels"]["app.kubernetes.io/component"].replace("-", "_")
        policy = r.named("NetworkPolicy", name)
        ports = {
            (p["port"], p.get("protocol", "TCP"))
            for rule in policy["spec"]["egress"]
            for p in rule.get("ports", [])
        }
        assert (53, "UDP") in ports and (53, "TCP") in ports, name
        assert (5432, "TCP") in ports, name
        assert ((4222, "TCP") in ports) is (service != "hmrc_sandbox"), name
        public_egress = [
            rule
            for rule in policy["spec"]["egress"]
            for peer in rule.get("to", [])
            if peer.get("ipBlock", {}).get("cidr") == "0.0.0.0/0"
        ]
        calls_hmrc = service in {"auth", "hmrc_gateway"} and not simulator
        assert bool(public_egress) is calls_hmrc, name
        for rule in public_egress:
            assert [p["port"] for p in rule["ports"]] == [443]
            assert "169.254.0.0/16" in rule["to"][0]["ipBlock"]["except"], "no cloud metadata"
        ingress_from_controller = any(
            "namespaceSelector" in peer
            and peer["namespaceSelector"]
            == {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}
            for rule in policy["spec"]["ingress"]
            for peer in rule.get("from", [])
        )
        public = service in PUBLIC_SERVICES and r.values.get("ingress", {}).get("enabled", True)
        assert ingress_from_controller is bool(public), name


def test_no_policies_when_disabled() -> None:
    r = render({"networkPolicy": {"enabled": False}})
    assert r.kind("NetworkPolicy") == []
    assert fullname("auth") in {d["metadata"]["name"] for d in r.kind("Deployment")}
