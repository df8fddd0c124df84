"""What every rendering must hold, over the whole values matrix."""

from __future__ import annotations

import importlib
import re
from typing import Any

import pytest

from services.common.settings import ServiceSettings, setting_name
from tests.charts.cases import CASES
from tests.charts.chart import (
    ALL_SERVICES,
    PLATFORM_SERVICES,
    Obj,
    Rendered,
    component,
    fullname,
    render,
)


@pytest.fixture(params=list(CASES), ids=list(CASES))
def rendered(request: pytest.FixtureRequest) -> Rendered:
    return render(CASES[request.param])


def enabled(r: Rendered, service: str) -> bool:
    return bool(r.component("Deployment", component(service)))


def containers(pod: Obj) -> list[Obj]:
    return [*pod.get("initContainers", []), *pod["containers"]]


def matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    assert set(selector) <= {"matchLabels"}, f"unsupported selector {selector}"
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


# -- every workload ------------------------------------------------------------------------
def test_every_container_is_hardened(rendered: Rendered) -> None:
    pods = list(rendered.pod_specs())
    assert pods
    for owner, pod in pods:
        where = f"{owner['kind']}/{owner['metadata']['name']}"
        assert pod["automountServiceAccountToken"] is False, where
        assert not pod.get("hostNetwork") and not pod.get("hostPID") and not pod.get("hostIPC")
        psc = pod["securityContext"]
        assert psc["runAsNonRoot"] is True, where
        assert psc["runAsUser"] > 0, where
        assert psc["seccompProfile"]["type"] == "RuntimeDefault", where
        for c in containers(pod):
            sc = c["securityContext"]
            assert sc["runAsNonRoot"] is True, where
            assert sc["privileged"] is False, where
            assert sc["allowPrivilegeEscalation"] is False, where
            assert sc["readOnlyRootFilesystem"] is True, where
            assert sc["capabilities"]["drop"] == ["ALL"], where
            assert not sc["capabilities"].get("add"), where
            assert sc["seccompProfile"]["type"] == "RuntimeDefault", where
            # A read-only root needs a writable /tmp, and it is in memory and bounded.
            mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
            tmp = next(v for v in pod["volumes"] if v["name"] == mounts["/tmp"])
            assert tmp["emptyDir"]["sizeLimit"], where
            res = c["resources"]
            assert res["requests"]["cpu"] and res["requests"]["memory"], where
            assert res["limits"]["memory"], where
            for port in c.get("ports", []):
                assert "hostPort" not in port, where


def test_every_service_container_has_probes(rendered: Rendered) -> None:
    for deployment in rendered.kind("Deployment"):
        for c in deployment["spec"]["template"]["spec"]["containers"]:
            assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
            assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
            assert c["startupProbe"]["httpGet"]["path"] == "/healthz"
            port_names = {p["name"] for p in c["ports"]}
            for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
                assert c[probe]["httpGet"]["port"] in port_names


IMAGE = re.compile(
    r"^[a-z0-9][a-z0-9._/:-]*/[a-z0-9._-]+"
    r":(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]*)(@sha256:[a-f0-9]{64})?$"
)


def test_images_are_pinned(rendered: Rendered) -> None:
    for owner, pod in rendered.pod_specs():
        for c in containers(pod):
            match = IMAGE.match(c["image"])
            assert match, f"{owner['metadata']['name']}: unpinned image {c['image']}"
            assert match["tag"] not in {"latest", "stable", "main", "master"}
            assert c["imagePullPolicy"] in {"IfNotPresent", "Always"}


def test_nothing_privileged_anywhere(rendered: Rendered) -> None:
    text = repr(rendered.objects)
    assert "'privileged': True" not in text
    assert "hostPath" not in text
    assert "SYS_ADMIN" not in text and "NET_ADMIN" not in text
    for sa in rendered.kind("ServiceAccount"):
        assert sa["automountServiceAccountToken"] is False
    assert not rendered.kind("Role") and not rendered.kind("ClusterRoleBinding")


def secret_settings() -> set[str]:
    """Every setting a service declares as a secret (SecretStr), by environment name."""
    names: set[str] = set()
    for service in ALL_SERVICES:
        module = importlib.import_module(f"services.{service}.settings")
        for cls in vars(module).values():
            if (
                isinstance(cls, type)
                and issubclass(cls, ServiceSettings)
                and cls is not ServiceSettings
            ):
                for field, info in cls.model_fields.items():
                    if "SecretStr" in repr(info.annotation):
                        names.add(setting_name(cls, field))
    return names


SECRET_SETTINGS = secret_settings()


def test_secrets_only_by_reference(rendered: Rendered) -> None:
    assert {"AUTH_DATABASE_URL", "AUTH_HMRC_CLIENT_SECRET"} <= SECRET_SETTINGS
    assert rendered.kind("Secret") == []
    for cm in rendered.kind("ConfigMap"):
        assert not set(cm.get("data", {})) & SECRET_SETTINGS, cm["metadata"]["name"]
    for _, pod in rendered.pod_specs():
        for c in containers(pod):
            for e in c.get("env", []):
                assert e["name"] not in SECRET_SETTINGS or "value" not in e, e["name"]


# -- per service -----------------------------------------------------------------------------
def test_every_deployment_has_its_companions(rendered: Rendered) -> None:
    netpol_on = rendered.values.get("networkPolicy", {}).get("enabled", True)
    for deployment in rendered.kind("Deployment"):
        name = deployment["metadata"]["name"]
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert matches(deployment["spec"]["selector"], labels)
        pdbs = [
            p
            for p in rendered.kind("PodDisruptionBudget")
            if matches(p["spec"]["selector"], labels)
        ]
        assert len(pdbs) == 1, f"{name}: PDBs {len(pdbs)}"
        services = [
            s
            for s in rendered.kind("Service")
            if matches({"matchLabels": s["spec"]["selector"]}, labels)
        ]
        assert len(services) == 1, name
        sa = rendered.named(
            "ServiceAccount", deployment["spec"]["template"]["spec"]["serviceAccountName"]
        )
        assert sa["automountServiceAccountToken"] is False
        cm_refs = [
            e["configMapRef"]["name"]
            for c in deployment["spec"]["template"]["spec"]["containers"]
            for e in c["envFrom"]
        ]
        for ref in cm_refs:
            rendered.named("ConfigMap", ref)
        policies = [
            p for p in rendered.kind("NetworkPolicy") if matches(p["spec"]["podSelector"], labels)
        ]
        if netpol_on:
            own = [p for p in policies if p["metadata"]["name"] == name]
            assert len(own) == 1, f"{name}: no NetworkPolicy of its own"
            assert any(p["metadata"]["name"].endswith("-default-deny") for p in policies), name
        else:
            assert policies == []
        spread = deployment["spec"]["template"]["spec"]["topologySpreadConstraints"]
        assert {t["topologyKey"] for t in spread} == {
            "topology.kubernetes.io/zone",
            "kubernetes.io/hostname",
        }
        for t in spread:
            assert matches(t["labelSelector"], labels)


def test_stateless_services_run_at_least_two_replicas(rendered: Rendered) -> None:
    hpas = {
        h["spec"]["scaleTargetRef"]["name"]: h for h in rendered.kind("HorizontalPodAutoscaler")
    }
    for service in PLATFORM_SERVICES:
        deployment = rendered.named("Deployment", fullname(service))
        hpa = hpas.get(fullname(service))
        if hpa is not None:
            assert "replicas" not in deployment["spec"], "the HPA owns the replica count"
            assert hpa["spec"]["minReplicas"] >= 2
            assert hpa["spec"]["maxReplicas"] >= hpa["spec"]["minReplicas"]
        else:
            assert deployment["spec"]["replicas"] >= 2
        # Never a rollout that takes a replica away before its replacement is ready.
        assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
        pdb = rendered.named("PodDisruptionBudget", fullname(service))
        assert pdb["spec"]["maxUnavailable"] == 1


def assert_database_url_is_a_file(pod: Obj, c: Obj, service: str) -> None:
    """The URL reaches the service as the file MTD_SECRETS_DIR/<PREFIX>DATABASE_URL."""
    env = {e["name"]: e for e in c["env"]}
    assert service.upper() + "_DATABASE_URL" not in env
    secrets_dir = env["MTD_SECRETS_DIR"]["value"]
    (mount,) = [m for m in c["volumeMounts"] if m["mountPath"] == secrets_dir]
    assert mount["readOnly"] is True
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    sources = volume["projected"]["sources"]
    paths = [i["path"] for src in sources for i in src["secret"].get("items", [])]
    assert paths == [service.upper() + "_DATABASE_URL"]
    assert all(src["secret"]["name"] for src in sources)


def test_each_service_gets_its_own_settings(rendered: Rendered) -> None:
    for service in ALL_SERVICES:
        if not enabled(rendered, service):
            continue
        prefix = service.upper() + "_"
        data = rendered.named("ConfigMap", fullname(service))["data"]
        assert set(data) >= {
            prefix + k for k in ("ENVIRONMENT", "HOST", "PORT", "LOG_LEVEL", "NATS_URL")
        }
        assert all(key.startswith(prefix) for key in data), data
        assert data[prefix + "HOST"] == "0.0.0.0"
        otel = rendered.values.get("otel", {}).get("endpoint")
        assert data.get(prefix + "OTLP_ENDPOINT") == (otel or None)
        pod = rendered.named("Deployment", fullname(service))["spec"]["template"]["spec"]
        (c,) = pod["containers"]
        assert c["args"] == [f"services.{service}"]
        assert_database_url_is_a_file(pod, c, service)


def test_simulator_only_when_enabled(rendered: Rendered) -> None:
    wanted = rendered.values.get("services", {}).get("hmrc_sandbox", {}).get("enabled", False)
    assert enabled(rendered, "hmrc_sandbox") is wanted
    base = rendered.named("ConfigMap", fullname("hmrc_gateway"))["data"][
        "HMRC_GATEWAY_HMRC_BASE_URL"
    ]
    auth_base = rendered.named("ConfigMap", fullname("auth"))["data"]["AUTH_HMRC_BASE_URL"]
    if wanted:
        assert base == auth_base == f"http://{fullname('hmrc_sandbox')}:8080"
    else:
        assert base == auth_base and base.startswith("https://")


# -- migrations --------------------------------------------------------------------------------
def test_migrations_run_as_hooks_before_the_services(rendered: Rendered) -> None:
    jobs = rendered.kind("Job")
    if not rendered.values.get("migrations", {}).get("enabled", True):
        assert jobs == []
        return
    services = sorted(s for s in ALL_SERVICES if enabled(rendered, s))
    migrated = sorted(j["spec"]["template"]["spec"]["containers"][0]["args"][1] for j in jobs)
    assert migrated == services
    hook_objects = [
        o for o in rendered.objects if "helm.sh/hook" in o["metadata"].get("annotations", {})
    ]
    for obj in hook_objects:
        annotations = obj["metadata"]["annotations"]
        assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
        if obj["kind"] != "Job":
            assert int(annotations["helm.sh/hook-weight"]) < 0, "prerequisites before the Jobs"
    for job in jobs:
        pod = job["spec"]["template"]["spec"]
        (c,) = pod["containers"]
        assert c["args"][0] == "deploy.migrate"
        assert_database_url_is_a_file(pod, c, c["args"][1])
        assert pod["restartPolicy"] == "Never"
        assert job["spec"]["activeDeadlineSeconds"] > 0
        # The ServiceAccount it runs as is itself a hook, so it exists on a first install.
        sa = rendered.named("ServiceAccount", pod["serviceAccountName"])
        assert "helm.sh/hook" in sa["metadata"]["annotations"]


# -- canary ------------------------------------------------------------------------------------
def test_canary_cronjob(rendered: Rendered) -> None:
    cronjobs = rendered.kind("CronJob")
    canary = rendered.values.get("canary", {})
    if not canary.get("enabled", False):
        assert cronjobs == []
        return
    (cj,) = cronjobs
    assert cj["spec"]["schedule"] == canary.get("schedule", "*/5 * * * *")
    assert cj["spec"]["concurrencyPolicy"] == "Forbid"
    (c,) = cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    # The image's entrypoint is `python -m`: this runs `python -m services.canary`.
    assert c["args"] == ["services.canary"]
