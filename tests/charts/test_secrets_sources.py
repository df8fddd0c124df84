"""Where the pods' secrets come from: the mounted Secret (re-read on change), Vault when
enabled (KV v2 path and Kubernetes-auth role per service, a projected token for Vault
only, egress to Vault), and auth's Secret in its migration Job (a migration seals rows)."""

from __future__ import annotations

from typing import Any

from tests.charts.chart import ALL_SERVICES, Obj, component, fullname, lint, render

VAULT: dict[str, Any] = {
    "vault": {"enabled": True, "address": "https://vault.vault.svc:8200", "rolePrefix": "p-"},
    "networkPolicy": {"enabled": True},
    "migrations": {"enabled": True},
}


def container(pod: Obj) -> Obj:
    (c,) = pod["containers"]
    return c


def test_vault_settings_per_service() -> None:
    rendered = render(VAULT)
    report = lint(VAULT)
    assert report["errors"] == []
    # The schema asks for an address once Vault is enabled.
    assert lint({"vault": {"enabled": True}})["errors"]
    for service in ALL_SERVICES:
        found = rendered.component("Deployment", component(service))
        if not found:
            continue
        pod = found[0]["spec"]["template"]["spec"]
        env = {e["name"]: e.get("value") for e in container(pod)["env"]}
        assert env["MTD_VAULT_ADDR"] == "https://vault.vault.svc:8200"
        assert env["MTD_VAULT_PATH"] == f"mtd/{service}"
        assert env["MTD_VAULT_ROLE"] == "p-" + service.replace("_", "-")
        assert env["MTD_VAULT_MOUNT"] == "secret"
        assert "MTD_VAULT_TOKEN" not in env  # Kubernetes auth, never a static token
        (volume,) = [v for v in pod["volumes"] if v["name"] == "vault-token"]
        (source,) = volume["projected"]["sources"]
        assert source["serviceAccountToken"]["audience"] == "vault"
        mounts = {m["mountPath"]: m for m in container(pod)["volumeMounts"]}
        assert env["MTD_VAULT_JWT_FILE"].startswith(next(p for p in mounts if "vault" in p))
        assert pod.get("automountServiceAccountToken") in (None, False)
        policy = rendered.named("NetworkPolicy", fullname(service))
        ports = [p["port"] for rule in policy["spec"]["egress"] for p in rule.get("ports", [])]
        assert 8200 in ports


def test_no_vault_by_default() -> None:
    rendered = render({"networkPolicy": {"enabled": True}})
    for obj, pod in rendered.pod_specs():
        for c in pod["containers"]:
            assert not [e for e in c.get("env", []) if e["name"].startswith("MTD_VAULT")]
        assert not [v for v in pod.get("volumes", []) if v["name"] == "vault-token"], obj


def test_only_auths_migration_mounts_its_secret() -> None:
    rendered = render({"migrations": {"enabled": True}})
    for service in ALL_SERVICES:
        jobs = [
            j
            for j in rendered.kind("Job")
            if j["spec"]["template"]["spec"]["containers"][0]["args"][-1] == service
            and "deploy.migrate" in j["spec"]["template"]["spec"]["containers"][0]["args"]
        ]
        if not jobs:
            continue
        pod = jobs[0]["spec"]["template"]["spec"]
        (volume,) = [v for v in pod["volumes"] if v["name"] == "secrets"]
        names = [src["secret"]["name"] for src in volume["projected"]["sources"]]
        if service == "auth":
            assert names == ["mtd-auth-database", "mtd-auth-secrets"]
        else:
            assert len(names) == 1 and names[0].endswith("-database")
