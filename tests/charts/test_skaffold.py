"""skaffold.yaml against the chart and the services: every service is built by an artifact,
every artifact is used, every profile deploys values the chart accepts."""

from __future__ import annotations

import re
from typing import Any

import yaml

from tests.charts.chart import ALL_SERVICES, CHART, ROOT, deep_merge, load_values, render

SKAFFOLD = yaml.safe_load((ROOT / "skaffold.yaml").read_text())
TEMPLATE = re.compile(r"\{\{\s*\.IMAGE_(REPO|TAG|DIGEST)_([A-Za-z0-9_]+)\s*\}\}")


def artifact_key(image: str) -> str:
    """Skaffold's template name for an artifact: non-alphanumerics become underscores."""
    return re.sub(r"[^A-Za-z0-9]", "_", image)


def release() -> dict[str, Any]:
    (only,) = SKAFFOLD["deploy"]["helm"]["releases"]
    assert isinstance(only, dict)
    return only


def fake_build_values() -> dict[str, Any]:
    """The values skaffold would set after a build, with a made-up tag and digest."""
    fake = {"REPO": "registry.test/built", "TAG": "abc1234", "DIGEST": "sha256:" + "cd" * 32}
    values: dict[str, Any] = {}
    for key, template in release()["setValueTemplates"].items():
        rendered = TEMPLATE.sub(lambda m: fake[m[1]], template)
        node = values
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = rendered
    return values


def test_every_artifact_is_used_and_exists() -> None:
    artifacts = SKAFFOLD["build"]["artifacts"]
    assert artifacts
    used = {m[2] for t in release()["setValueTemplates"].values() for m in TEMPLATE.finditer(t)}
    assert used == {artifact_key(a["image"]) for a in artifacts}
    for artifact in artifacts:
        assert (ROOT / artifact.get("context", ".") / artifact["docker"]["dockerfile"]).is_file()
        kinds = {
            m[1]
            for t in release()["setValueTemplates"].values()
            for m in TEMPLATE.finditer(t)
            if m[2] == artifact_key(artifact["image"])
        }
        assert kinds == {"REPO", "TAG", "DIGEST"}


def test_every_service_runs_a_built_image() -> None:
    assert (ROOT / release()["chartPath"]).resolve() == CHART
    on = {"services": {"hmrc_sandbox": {"enabled": True}}, "canary": {"enabled": True}}
    r = render(deep_merge(on, fake_build_values()))
    expected = "registry.test/built:abc1234@sha256:" + "cd" * 32
    started = set()
    for _, pod in r.pod_specs():
        for c in pod["containers"]:
            assert c["image"] == expected
            started.add(c["args"][0])
    assert {f"services.{s}" for s in ALL_SERVICES} | {
        "deploy.migrate",
        "services.canary",
    } == started


def test_services_on_disk_match_the_chart() -> None:
    # Runnable packages that are tools or jobs, not deployed services.
    tools = {"stack", "canary", "integrity", "backup", "cli"}
    on_disk = {p.parent.name for p in (ROOT / "services").glob("*/__main__.py")} - tools
    assert on_disk == set(ALL_SERVICES)
    assert set(load_values(CHART / "values.yaml")["services"]) == on_disk


def test_profiles_deploy_values_the_chart_accepts() -> None:
    profiles = {p["name"]: p for p in SKAFFOLD["profiles"]}
    assert set(profiles) == {"dev", "ci", "load", "chaos"}
    for name, profile in profiles.items():
        files = [
            f
            for patch in profile["patches"]
            if patch["path"].endswith("/valuesFiles")
            for f in patch["value"]
        ]
        assert files, name
        values = fake_build_values()
        for patch in profile["patches"]:
            if patch["path"].endswith("/setValueTemplates/image.digest"):
                values["image"]["digest"] = patch["value"]
        for f in files:
            values = deep_merge(values, load_values(ROOT / f))
        r = render(values)
        assert r.kind("Deployment"), name
        simulator = bool(r.component("Deployment", "hmrc-sandbox"))
        assert simulator, f"{name}: profiles run against the HMRC simulator"
