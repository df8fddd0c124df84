"""The backup CronJob: off by default; when on, hardened like every workload, secrets only
by reference, its own narrow NetworkPolicy, and values the schema refuses when wrong."""

from __future__ import annotations

from typing import Any

import helm_python as helm
import pytest

from tests.charts.cases import ALL_ON
from tests.charts.chart import Obj, Rendered, deep_merge, default_values, lint, render

ON: dict[str, Any] = {"backup": {"enabled": True}}
NAME = "mtd-mtd-vat-backup"


def cronjob(r: Rendered) -> Obj:
    return r.named("CronJob", NAME)


def pod(r: Rendered) -> Obj:
    spec: Obj = cronjob(r)["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return spec


def test_off_by_default() -> None:
    assert default_values()["backup"]["enabled"] is False
    r = render()
    assert r.component("CronJob", "backup") == []
    assert r.component("NetworkPolicy", "backup") == []
    assert r.component("ServiceAccount", "backup") == []


@pytest.mark.parametrize("values", [ON, deep_merge(ALL_ON, ON)], ids=["backup", "all-on"])
def test_runs_the_backup_command_hardened(values: dict[str, Any]) -> None:
    r = render(values)
    job = cronjob(r)
    assert job["spec"]["schedule"] == default_values()["backup"]["schedule"]
    assert job["spec"]["concurrencyPolicy"] == "Forbid"
    spec = pod(r)
    (c,) = spec["containers"]
    # The image's entrypoint is `python -m`: this runs `python -m services.backup backup`.
    assert c["args"] == ["services.backup", "backup", "--kind", "all"]
    assert spec["restartPolicy"] == "Never"
    assert spec["automountServiceAccountToken"] is False
    assert (
        r.named("ServiceAccount", spec["serviceAccountName"])["automountServiceAccountToken"]
        is False
    )
    assert spec["securityContext"]["runAsNonRoot"] is True
    sc = c["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["privileged"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert c["resources"]["limits"]["memory"]
    mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes[mounts["/tmp"]["name"]]["emptyDir"]["sizeLimit"]
    assert (
        volumes[mounts["/backups"]["name"]]["persistentVolumeClaim"]["claimName"] == "mtd-backups"
    )
    secret = volumes[mounts["/run/secrets/mtd"]["name"]]["secret"]
    assert mounts["/run/secrets/mtd"]["readOnly"] is True
    name = secret["secretName"]  # pragma: allowlist secret
    assert name == "mtd-backup-secrets"
    env = {e["name"]: e for e in c["env"]}
    assert env["BACKUP_DIR"]["value"] == "/backups"
    assert env["MTD_SECRETS_DIR"]["value"] == "/run/secrets/mtd"
    assert env["BACKUP_ENVIRONMENT"]["value"] == "production"
    # The key and the database URL come from the mounted Secret only.
    for name in ("BACKUP_ENCRYPTION_KEY", "BACKUP_DATABASE_URL"):
        assert name not in env


def test_own_network_policy_reaches_postgres_and_nothing_in() -> None:
    r = render(ON)
    (policy,) = r.component("NetworkPolicy", "backup")
    labels = pod_labels(r)
    assert all(labels.get(k) == v for k, v in policy["spec"]["podSelector"]["matchLabels"].items())
    assert policy["spec"]["ingress"] == []
    ports = {p["port"] for rule in policy["spec"]["egress"] for p in rule["ports"]}
    assert ports == {53, 5432}
    pushed = render(
        deep_merge(ON, {"backup": {"pushgatewayUrl": "http://pushgateway.monitoring:9091"}})
    )
    (policy,) = pushed.component("NetworkPolicy", "backup")
    ports = {p["port"] for rule in policy["spec"]["egress"] for p in rule["ports"]}
    assert ports == {53, 5432, 9091}
    env = {e["name"]: e.get("value") for e in pod(pushed)["containers"][0]["env"]}
    assert env["BACKUP_PUSHGATEWAY_URL"] == "http://pushgateway.monitoring:9091"
    off = render(deep_merge(ON, {"networkPolicy": {"enabled": False}}))
    assert off.component("NetworkPolicy", "backup") == []


def pod_labels(r: Rendered) -> dict[str, str]:
    labels: dict[str, str] = cronjob(r)["spec"]["jobTemplate"]["spec"]["template"]["metadata"][
        "labels"
    ]
    return labels


def test_default_deny_still_selects_the_backup_pod() -> None:
    r = render(ON)
    (deny,) = [
        p for p in r.kind("NetworkPolicy") if p["metadata"]["name"].endswith("-default-deny")
    ]
    labels = pod_labels(r)
    assert all(labels.get(k) == v for k, v in deny["spec"]["podSelector"]["matchLabels"].items())


def test_settings_pass_through_with_the_prefix() -> None:
    r = render(
        deep_merge(ON, {"backup": {"kind": "logical", "env": {"DATABASES": '["mtd_audit"]'}}})
    )
    (c,) = pod(r)["containers"]
    assert c["args"][-1] == "logical"
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert env["BACKUP_DATABASES"] == '["mtd_audit"]'


def test_lints_strict_when_on() -> None:
    report = lint(ON)
    assert report["errors"] == []


@pytest.mark.parametrize(
    ("bad", "named"),
    [
        ({"kind": "everything"}, "/backup/kind"),
        ({"schedule": "every six hours"}, "/backup/schedule"),
        ({"pushgatewayUrl": "ftp://pushgateway"}, "/backup/pushgatewayUrl"),
        ({"secretName": "Not_A_Name"}, "/backup/secretName"),  # pragma: allowlist secret
        ({"unknown": True}, "unknown"),
        ({"env": {"lower": "x"}}, "lower"),
    ],
    ids=["kind", "schedule", "pushgateway", "secret-name", "unknown-key", "env-name"],
)
def test_schema_refuses_bad_backup_values(bad: dict[str, Any], named: str) -> None:
    with pytest.raises(helm.HelmValuesError) as err:
        render(deep_merge(ON, {"backup": bad}))
    assert named in str(err.value)
