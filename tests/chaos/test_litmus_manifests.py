"""The Litmus manifests: they parse, are what chaos/litmus/manifests.py writes, target what
the chart renders for the chaos profile (namespace, component labels, containers, Services,
the HMRC and NATS hosts, the image and its database Secrets), carry all three probe kinds,
query metric names that exist, come with their RBAC, and are scheduled weekly.

No cluster runs here: the runner's verdict reading is checked against ChaosResult documents
shaped as the Litmus operator writes them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from chaos.litmus import manifests
from chaos.litmus.run import main as run_main
from chaos.litmus.run import read_verdict, result_name
from tests.charts.chart import CHART, NAMESPACE, ROOT, Obj, Rendered, load_values, render

LITMUS = ROOT / "chaos" / "litmus"


def load(path: Path) -> list[Obj]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def all_documents() -> list[Obj]:
    return [doc for path in sorted(LITMUS.rglob("*.yaml")) for doc in load(path)]


def engines() -> list[Obj]:
    return [d for d in all_documents() if d["kind"] == "ChaosEngine"]


def experiment(engine: Obj) -> Obj:
    experiments = engine["spec"]["experiments"]
    assert len(experiments) == 1, engine["metadata"]["name"]
    exp: Obj = experiments[0]
    return exp


def env_of(engine: Obj) -> dict[str, str]:
    return {e["name"]: e["value"] for e in experiment(engine)["spec"]["components"]["env"]}


def probe(engine: Obj, kind: str) -> list[Obj]:
    return [p for p in experiment(engine)["spec"]["probe"] if p["type"] == kind]


@pytest.fixture(scope="module")
def chart() -> Rendered:
    return render(load_values(CHART / "ci" / "chaos-values.yaml"))


def target(chart: Rendered, engine: Obj) -> Obj:
    """The one Deployment whose pods the engine's app label selects."""
    key, value = engine["spec"]["appinfo"]["applabel"].split("=", 1)
    found = [
        d
        for d in chart.kind("Deployment")
        if d["spec"]["template"]["metadata"]["labels"].get(key) == value
    ]
    assert len(found) == 1, (engine["metadata"]["name"], [d["metadata"]["name"] for d in found])
    return found[0]


def configmap_of(chart: Rendered, deployment: Obj) -> dict[str, str]:
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    name = container["envFrom"][0]["configMapRef"]["name"]
    data: dict[str, str] = chart.named("ConfigMap", name)["data"]
    return data


def test_manifests_parse_and_are_what_the_generator_writes() -> None:
    expected = manifests.documents()
    on_disk = {p for p in LITMUS.rglob("*.yaml")}
    assert on_disk == set(expected), "run python -m chaos.litmus.manifests"
    for path, docs in expected.items():
        assert load(path) == docs, f"{path.name} is stale: run python -m chaos.litmus.manifests"
    assert [e["metadata"]["name"] for e in engines()] == sorted(d.name for d in manifests.DRILLS)
    kinds = {e["metadata"]["name"]: experiment(e)["name"] for e in engines()}
    assert set(kinds.values()) == {
        "pod-delete",
        "container-kill",
        "pod-network-latency",
        "pod-network-loss",
        "pod-cpu-hog",
    }
    deleted = {n for n, k in kinds.items() if k == "pod-delete"}
    assert deleted == {"submission-pod-delete", "hmrc-gateway-pod-delete", "audit-pod-delete"}


def test_every_experiment_has_all_three_probe_kinds() -> None:
    for engine in engines():
        name = engine["metadata"]["name"]
        http, prom, cmd = (probe(engine, k) for k in ("httpProbe", "promProbe", "cmdProbe"))
        assert http and prom and cmd, name
        assert all(p["mode"] == "Continuous" for p in http), name
        assert all(urlsplit(p["httpProbe/inputs"]["url"]).path == "/readyz" for p in http), name
        queries = " ".join(p["promProbe/inputs"]["query"] for p in prom)
        assert "submission_queue_oldest_age_seconds" in queries, name
        assert "slo:sli_error:ratio_rate5m" in queries, name
        assert [p["mode"] for p in cmd] == ["EOT"], name
        assert cmd[0]["cmdProbe/inputs"]["command"].startswith("python -m services.integrity")


def test_engines_target_namespaces_labels_and_containers_the_chart_renders(
    chart: Rendered,
) -> None:
    for engine in engines():
        name = engine["metadata"]["name"]
        assert engine["metadata"]["namespace"] == NAMESPACE
        assert engine["spec"]["appinfo"]["appns"] == NAMESPACE
        assert engine["spec"]["appinfo"]["appkind"] == "deployment"
        deployment = target(chart, engine)
        assert deployment["metadata"]["namespace"] == NAMESPACE
        replicas = chart.values["defaults"]["autoscaling"]["minReplicas"]
        assert replicas >= 2, "a pod-delete needs survivors"
        containers = [c["name"] for c in deployment["spec"]["template"]["spec"]["containers"]]
        wanted = env_of(engine).get("TARGET_CONTAINER")
        assert wanted is None or wanted in containers, (name, wanted, containers)
        # The readiness probe asks the component's own Service, on its port.
        component = deployment["metadata"]["labels"]["app.kubernetes.io/component"]
        for p in probe(engine, "httpProbe"):
            url = urlsplit(p["httpProbe/inputs"]["url"])
            service, namespace = url.hostname.split(".")[:2]  # type: ignore[union-attr]
            svc = chart.named("Service", service)
            assert svc["spec"]["selector"]["app.kubernetes.io/component"] == component, name
            assert namespace == NAMESPACE
            assert url.port in [port["port"] for port in svc["spec"]["ports"]]


def test_network_faults_aim_where_the_chart_points(chart: Rendered) -> None:
    by_kind = {experiment(e)["name"]: e for e in engines()}
    latency = by_kind["pod-network-latency"]
    gateway = configmap_of(chart, target(chart, latency))
    hmrc = urlsplit(gateway["HMRC_GATEWAY_HMRC_BASE_URL"])
    assert target(chart, latency)["metadata"]["name"].endswith("hmrc-gateway")
    assert env_of(latency)["DESTINATION_HOSTS"] == hmrc.hostname
    assert env_of(latency)["NETWORK_LATENCY"] == "2000"

    loss = by_kind["pod-network-loss"]
    prefix = "SUBMISSION_"
    nats = urlsplit(configmap_of(chart, target(chart, loss))[prefix + "NATS_URL"])
    assert env_of(loss)["DESTINATION_HOSTS"] == nats.hostname
    assert env_of(loss)["DESTINATION_PORTS"] == str(nats.port)


def test_integrity_probe_runs_the_chart_image_with_the_service_database_secrets(
    chart: Rendered,
) -> None:
    assert (ROOT / "services" / "integrity" / "__main__.py").exists()
    assert "COPY services ./app/services" in (ROOT / "Dockerfile").read_text()
    secrets: dict[str, set[tuple[str, str]]] = {}
    image = set()
    for d in chart.kind("Deployment"):
        spec = d["spec"]["template"]["spec"]
        image.add(spec["containers"][0]["image"])
        component = d["metadata"]["labels"]["app.kubernetes.io/component"]
        for volume in spec.get("volumes", []):
            for source in volume.get("projected", {}).get("sources", []):
                for item in source.get("secret", {}).get("items", []):
                    secrets.setdefault(component, set()).add(
                        (source["secret"]["name"], item["key"])
                    )
    for engine in engines():
        inputs = probe(engine, "cmdProbe")[0]["cmdProbe/inputs"]
        assert {inputs["source"]["image"]} == image
        refs = {
            e["name"]: (
                e["valueFrom"]["secretKeyRef"]["name"],
                e["valueFrom"]["secretKeyRef"]["key"],
            )
            for e in inputs["source"]["env"]
        }
        assert refs["INTEGRITY_SUBMISSION_DATABASE_URL"] in secrets["submission"]
        assert refs["INTEGRITY_AUDIT_DATABASE_URL"] in secrets["audit"]
        assert inputs["comparator"]["value"] == "integrity: OK"


def metric_names() -> set[str]:
    registry = yaml.safe_load((ROOT / "deploy" / "telemetry" / "registry.yaml").read_text())
    names = set()
    for name, meta in registry["metrics"].items():
        names.add(name)
        if meta["type"] == "counter":
            names.add(name + "_total")
        if meta["type"] == "histogram":
            names |= {name + s for s in ("_bucket", "_sum", "_count")}
    for path in (ROOT / "deploy" / "prometheus" / "rules").glob("*.yaml"):
        for group in yaml.safe_load(path.read_text())["groups"]:
            names |= {r["record"] for r in group["rules"] if "record" in r}
    return names


def test_prom_probes_query_metric_names_that_exist() -> None:
    known = metric_names()
    for engine in engines():
        for p in probe(engine, "promProbe"):
            query = p["promProbe/inputs"]["query"]
            used = set(re.findall(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{", query))
            assert used, query
            assert used <= known, (engine["metadata"]["name"], used - known)


def test_rbac_gives_the_engines_service_account_what_the_experiments_need() -> None:
    docs = load(LITMUS / "rbac.yaml")
    by_kind = {d["kind"]: d for d in docs}
    assert set(by_kind) == {"ServiceAccount", "Role", "RoleBinding"}
    account = by_kind["ServiceAccount"]["metadata"]["name"]
    assert all(d["metadata"]["namespace"] == NAMESPACE for d in docs)
    binding = by_kind["RoleBinding"]
    assert binding["roleRef"]["name"] == by_kind["Role"]["metadata"]["name"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": account, "namespace": NAMESPACE}
    ]

    def allowed(group: str, resource: str, verb: str) -> bool:
        return any(
            group in r["apiGroups"] and resource in r["resources"] and verb in r["verbs"]
            for r in by_kind["Role"]["rules"]
        )

    assert allowed("", "pods", "delete")
    assert allowed("", "pods", "create")  # helper pods for network, runtime and stress faults
    assert allowed("", "pods/exec", "create")
    assert allowed("batch", "jobs", "create")
    assert allowed("apps", "deployments", "list")
    assert allowed("litmuschaos.io", "chaosresults", "update")
    for engine in engines():
        assert engine["spec"]["chaosServiceAccount"] == account


def test_a_weekly_schedule_runs_every_engine_one_at_a_time() -> None:
    schedules = load(LITMUS / "schedule.yaml")
    assert all(s["kind"] == "ChaosSchedule" for s in schedules)
    specs = {e["metadata"]["name"]: e["spec"] for e in engines()}
    assert len(schedules) == len(specs)
    hours = set()
    for s in schedules:
        repeat = s["spec"]["schedule"]["repeat"]
        assert repeat["properties"]["minChaosInterval"] == "168h"
        assert repeat["workDays"]["includedDays"] == "Sun"
        hours.add(repeat["workHours"]["includedHours"])
        assert s["spec"]["engineTemplateSpec"] in specs.values()
    assert len(hours) == len(schedules)


def chaos_result(verdict: str, phase: str = "Completed", **status: Any) -> Obj:
    return {
        "apiVersion": "litmuschaos.io/v1alpha1",
        "kind": "ChaosResult",
        "status": {"experimentStatus": {"phase": phase, "verdict": verdict, **status}},
    }


def test_runner_reads_pass_fail_and_waiting_verdicts() -> None:
    assert read_verdict("e", chaos_result("Awaited", "Running")).verdict == "Awaited"
    passed = chaos_result("Pass")
    passed["status"]["probeStatuses"] = [
        {
            "name": "submission-readyz",
            "type": "httpProbe",
            "mode": "Continuous",
            "status": {"verdict": "Passed", "description": "ok"},
        }
    ]
    assert read_verdict("e", passed).passed
    failed = chaos_result("Fail", failStep="Failed in probe: submission-queue-age")
    failed["status"]["probeStatuses"] = [
        {
            "name": "submission-readyz",
            "type": "httpProbe",
            "mode": "Continuous",
            "status": {"verdict": "Passed"},
        },
        {
            "name": "submission-queue-age",
            "type": "promProbe",
            "mode": "Continuous",
            "status": {"verdict": "Failed", "description": "actual value 412 > 300"},
        },
    ]
    verdict = read_verdict("submission-pod-delete", failed)
    assert not verdict.passed
    text = verdict.describe()
    assert "failed step: Failed in probe: submission-queue-age" in text
    assert "submission-queue-age (promProbe, Continuous): Failed actual value 412 > 300" in text
    assert "submission-readyz" not in text


def test_runner_applies_rbac_then_every_engine_in_order(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run_main(["--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith("rbac.yaml")
    applied = [line.rsplit("/", 1)[1] for line in lines[1:] if " apply " in line]
    assert applied == [f"{d.name}.yaml" for d in manifests.DRILLS]
    deleted = [line.split()[3] for line in lines if "delete chaosresult" in line]
    assert deleted == [result_name(d) for d in manifests.DRILLS]
