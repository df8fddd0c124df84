"""The Litmus manifests, written from one description so every experiment carries the same
three kinds of steady-state probe. `python -m chaos.litmus.manifests` rewrites the YAML
files next to this module; tests/chaos checks them against the chart's rendering.

Targets assume the chart released as `mtd` in namespace `mtd` with the chaos profile's
values (charts/mtd-vat/ci/chaos-values.yaml: three replicas, the HMRC simulator on).
The generic experiments (pod-delete, container-kill, pod-network-latency,
pod-network-loss, pod-cpu-hog) come from the Litmus ChaosHub and are installed in the
namespace beforehand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

HERE = Path(__file__).parent
NAMESPACE = "mtd"
FULLNAME = "mtd-mtd-vat"  # release `mtd` of chart `mtd-vat`
PORT = 8080
IMAGE = "ghcr.io/mtd-vat/platform:0.1.0"
SERVICE_ACCOUNT = "mtd-chaos"
PROMETHEUS = "http://prometheus-operated.monitoring.svc:9090"
# Where the gateway's HMRC egress goes in the chaos profile (the in-cluster simulator), and
# the NATS server every service talks to (values: nats.url).
HMRC_HOST = f"{FULLNAME}-hmrc-sandbox"
NATS_HOST = "nats"
# One platform-wide steady state, from names in deploy/prometheus/rules and
# deploy/telemetry/registry.yaml; `or vector(0)` keeps a quiet platform steady.
ERROR_RATIO = 'max(slo:sli_error:ratio_rate5m{slo="submission-api-availability"}) or vector(0)'
QUEUE_AGE = 'max(submission_queue_oldest_age_seconds{platform="mtd-vat"}) or vector(0)'
# Databases the integrity check reads (values: services.<name>.database).
DATABASE_SECRETS = {
    "INTEGRITY_SUBMISSION_DATABASE_URL": ("mtd-submission-database", "url"),
    "INTEGRITY_AUDIT_DATABASE_URL": ("mtd-audit-database", "url"),
}
RUNTIME = [
    {"name": "CONTAINER_RUNTIME", "value": "containerd"},
    {"name": "SOCKET_PATH", "value": "/run/containerd/containerd.sock"},
]


@dataclass(frozen=True)
class Drill:
    name: str
    experiment: str
    component: str  # app.kubernetes.io/component of the target Deployment
    env: dict[str, str] = field(default_factory=dict)
    runtime: bool = False  # needs the container runtime's socket (helper pods)

    @property
    def container(self) -> str:
        return self.component


# The order the runner applies them in: instances first, then the network, then load.
DRILLS = (
    Drill(
        "submission-pod-delete",
        "pod-delete",
        "submission",
        {
            "TOTAL_CHAOS_DURATION": "60",
            "CHAOS_INTERVAL": "15",
            "FORCE": "true",
            "PODS_AFFECTED_PERC": "50",
        },
    ),
    Drill(
        "hmrc-gateway-pod-delete",
        "pod-delete",
        "hmrc-gateway",
        {
            "TOTAL_CHAOS_DURATION": "60",
            "CHAOS_INTERVAL": "15",
            "FORCE": "true",
            "PODS_AFFECTED_PERC": "50",
        },
    ),
    Drill(
        "audit-pod-delete",
        "pod-delete",
        "audit",
        {
            "TOTAL_CHAOS_DURATION": "60",
            "CHAOS_INTERVAL": "15",
            "FORCE": "true",
            "PODS_AFFECTED_PERC": "50",
        },
    ),
    Drill(
        "submission-container-kill",
        "container-kill",
        "submission",
        {
            "TOTAL_CHAOS_DURATION": "60",
            "CHAOS_INTERVAL": "20",
            "SIGNAL": "SIGKILL",
            "PODS_AFFECTED_PERC": "50",
        },
        runtime=True,
    ),
    Drill(
        "hmrc-gateway-hmrc-latency",
        "pod-network-latency",
        "hmrc-gateway",
        {
            "TOTAL_CHAOS_DURATION": "120",
            "NETWORK_LATENCY": "2000",
            "JITTER": "0",
            "DESTINATION_HOSTS": HMRC_HOST,
            "PODS_AFFECTED_PERC": "100",
        },
        runtime=True,
    ),
    Drill(
        "submission-nats-loss",
        "pod-network-loss",
        "submission",
        {
            "TOTAL_CHAOS_DURATION": "60",
            "NETWORK_PACKET_LOSS_PERCENTAGE": "100",
            "DESTINATION_HOSTS": NATS_HOST,
            "DESTINATION_PORTS": "4222",
            # Cut pods report not ready (readiness checks NATS); the rest keep serving.
            "PODS_AFFECTED_PERC": "50",
        },
        runtime=True,
    ),
    Drill(
        "submission-cpu-hog",
        "pod-cpu-hog",
        "submission",
        {"TOTAL_CHAOS_DURATION": "120", "CPU_CORES": "1", "PODS_AFFECTED_PERC": "100"},
        runtime=True,
    ),
)


def service_url(component: str) -> str:
    return f"http://{FULLNAME}-{component}.{NAMESPACE}.svc.cluster.local:{PORT}"


def probes(drill: Drill) -> list[dict[str, Any]]:
    return [
        {
            "name": f"{drill.component}-readyz",
            "type": "httpProbe",
            "mode": "Continuous",
            "httpProbe/inputs": {
                "url": service_url(drill.component) + "/readyz",
                "insecureSkipVerify": False,
                "responseTimeout": 2000,
                "method": {"get": {"criteria": "==", "responseCode": "200"}},
            },
            "runProperties": {
                "probeTimeout": "5s",
                "interval": "2s",
                "attempt": 3,
                "probePollingInterval": "2s",
            },
        },
        {
            "name": "submission-api-error-ratio",
            "type": "promProbe",
            "mode": "Edge",
            "promProbe/inputs": {
                "endpoint": PROMETHEUS,
                "query": ERROR_RATIO,
                "comparator": {"criteria": "<=", "value": "0.01"},
            },
            "runProperties": {"probeTimeout": "10s", "interval": "10s", "attempt": 3},
        },
        {
            "name": "submission-queue-age",
            "type": "promProbe",
            "mode": "Continuous",
            "promProbe/inputs": {
                "endpoint": PROMETHEUS,
                "query": QUEUE_AGE,
                "comparator": {"criteria": "<=", "value": "300"},
            },
            "runProperties": {
                "probeTimeout": "10s",
                "interval": "10s",
                "attempt": 3,
                "probePollingInterval": "15s",
            },
        },
        {
            "name": "integrity",
            "type": "cmdProbe",
            "mode": "EOT",
            "cmdProbe/inputs": {
                # The summary's last line says "integrity: OK" only when every check passed.
                "command": "python -m services.integrity --stuck-after 900",
                "source": {
                    "image": IMAGE,
                    "imagePullPolicy": "IfNotPresent",
                    # The image's entrypoint is `python -m`; the probe pod only idles.
                    "command": ["/bin/sh"],
                    "args": ["-c", "sleep 10000"],
                    "env": [
                        {"name": name, "valueFrom": {"secretKeyRef": {"name": s, "key": k}}}
                        for name, (s, k) in DATABASE_SECRETS.items()
                    ],
                },
                "comparator": {"type": "string", "criteria": "contains", "value": "integrity: OK"},
            },
            "runProperties": {"probeTimeout": "180s", "interval": "5s", "attempt": 2},
        },
    ]


def engine_spec(drill: Drill) -> dict[str, Any]:
    env = [{"name": k, "value": v} for k, v in drill.env.items()]
    if drill.experiment != "pod-delete":
        env.append({"name": "TARGET_CONTAINER", "value": drill.container})
    if drill.runtime:
        env += RUNTIME
    return {
        "engineState": "active",
        "appinfo": {
            "appns": NAMESPACE,
            "applabel": f"app.kubernetes.io/component={drill.component}",
            "appkind": "deployment",
        },
        "chaosServiceAccount": SERVICE_ACCOUNT,
        "jobCleanUpPolicy": "retain",
        "experiments": [
            {
                "name": drill.experiment,
                "spec": {"components": {"env": env}, "probe": probes(drill)},
            }
        ],
    }


def engine(drill: Drill) -> dict[str, Any]:
    return {
        "apiVersion": "litmuschaos.io/v1alpha1",
        "kind": "ChaosEngine",
        "metadata": {
            "name": drill.name,
            "namespace": NAMESPACE,
            "labels": {"app.kubernetes.io/part-of": "mtd-vat-chaos"},
        },
        "spec": engine_spec(drill),
    }


def schedule(drill: Drill, hour: int) -> dict[str, Any]:
    """Weekly, early on Sunday, one experiment per hour so they never overlap."""
    return {
        "apiVersion": "litmuschaos.io/v1alpha1",
        "kind": "ChaosSchedule",
        "metadata": {"name": f"weekly-{drill.name}", "namespace": NAMESPACE},
        "spec": {
            "scheduleState": "active",
            "schedule": {
                "repeat": {
                    "properties": {"minChaosInterval": "168h"},
                    "workDays": {"includedDays": "Sun"},
                    "workHours": {"includedHours": str(hour)},
                }
            },
            "engineTemplateSpec": engine_spec(drill),
        },
    }


def rbac() -> list[dict[str, Any]]:
    meta = {"name": SERVICE_ACCOUNT, "namespace": NAMESPACE}
    core = ""
    rules = [
        {
            "apiGroups": [core],
            "resources": ["pods"],
            "verbs": ["create", "delete", "get", "list", "patch", "update", "deletecollection"],
        },
        {
            "apiGroups": [core],
            "resources": ["events"],
            "verbs": ["create", "get", "list", "patch", "update"],
        },
        {"apiGroups": [core], "resources": ["configmaps", "secrets"], "verbs": ["get", "list"]},
        {"apiGroups": [core], "resources": ["pods/log"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": [core], "resources": ["pods/exec"], "verbs": ["get", "list", "create"]},
        {
            "apiGroups": ["apps"],
            "resources": ["deployments", "replicasets"],
            "verbs": ["get", "list"],
        },
        {
            "apiGroups": ["batch"],
            "resources": ["jobs"],
            "verbs": ["create", "get", "list", "delete", "deletecollection"],
        },
        {
            "apiGroups": ["litmuschaos.io"],
            "resources": ["chaosengines", "chaosexperiments", "chaosresults"],
            "verbs": ["create", "get", "list", "patch", "update", "delete"],
        },
    ]
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": meta,
            "rules": rules,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": meta,
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": SERVICE_ACCOUNT,
            },
            "subjects": [
                {"kind": "ServiceAccount", "name": SERVICE_ACCOUNT, "namespace": NAMESPACE}
            ],
        },
    ]


HEADER = "# Generated by `python -m chaos.litmus.manifests`; edit chaos/litmus/manifests.py.\n"


def documents() -> dict[Path, list[dict[str, Any]]]:
    files: dict[Path, list[dict[str, Any]]] = {HERE / "rbac.yaml": rbac()}
    for drill in DRILLS:
        files[HERE / "engines" / f"{drill.name}.yaml"] = [engine(drill)]
    files[HERE / "schedule.yaml"] = [schedule(d, hour) for hour, d in enumerate(DRILLS, 1)]
    return files


def text(docs: list[dict[str, Any]]) -> str:
    return HEADER + "---\n".join(yaml.safe_dump(d, sort_keys=False, width=100) for d in docs)


def write() -> list[Path]:
    written = []
    for path, docs in documents().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text(docs))
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write():
        print(path.relative_to(HERE.parents[1]))  # noqa: T201 - a command-line entry point
