"""Render the chart with real Helm (helm-python-sdk) and index the objects it produces."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import helm_python as helm
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "mtd-vat"
VALUES_FILES = sorted((CHART / "ci").glob("*-values.yaml"))
RELEASE = "mtd"
NAMESPACE = "mtd"
KUBE_VERSION = "1.31.0"

# The services of docs/DESIGN.md: the five platform services and the HMRC simulator.
PLATFORM_SERVICES = ("auth", "hmrc_gateway", "obligations", "submission", "audit")
ALL_SERVICES = (*PLATFORM_SERVICES, "hmrc_sandbox")
PUBLIC_SERVICES = ("auth", "obligations", "submission", "audit")

Obj = dict[str, Any]


@cache
def _chart() -> helm.Chart:
    return helm.Chart.load(str(CHART))


def load_values(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict), path
    return data


def deep_merge(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(dict(base))
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


@dataclass(frozen=True)
class Rendered:
    values: dict[str, Any]
    objects: list[Obj]

    def kind(self, kind: str) -> list[Obj]:
        return [o for o in self.objects if o["kind"] == kind]

    def named(self, kind: str, name: str) -> Obj:
        found = [o for o in self.kind(kind) if o["metadata"]["name"] == name]
        assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
        return found[0]

    def component(self, kind: str, component: str) -> list[Obj]:
        return [
            o
            for o in self.kind(kind)
            if o["metadata"].get("labels", {}).get("app.kubernetes.io/component") == component
        ]

    def pod_specs(self) -> Iterator[tuple[Obj, Obj]]:
        """(owner, pod spec) for every Deployment, Job and CronJob."""
        for obj in self.objects:
            if obj["kind"] in ("Deployment", "Job"):
                yield obj, obj["spec"]["template"]["spec"]
            elif obj["kind"] == "CronJob":
                yield obj, obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def render(values: Mapping[str, Any] | None = None) -> Rendered:
    """Render once per distinct values (the matrix is shared by many tests)."""
    key = json.dumps(values or {}, sort_keys=True)
    return _render(key)


@cache
def _render(key: str) -> Rendered:
    values = json.loads(key)
    files = _chart().render(values, name=RELEASE, namespace=NAMESPACE)
    objects: list[Obj] = []
    for path, text in sorted(files.items()):
        if path.endswith("NOTES.txt"):
            continue
        for doc in yaml.safe_load_all(text):
            if doc is None:
                continue
            assert isinstance(doc, dict) and "kind" in doc, f"{path}: not an object: {doc!r}"
            objects.append(doc)
    return Rendered(values, objects)


def lint(values: Mapping[str, Any] | None = None) -> dict[str, Any]:
    report: dict[str, Any] = helm.lint(
        str(CHART), dict(values or {}), strict=True, kube_version=KUBE_VERSION
    )
    return report


def component(service: str) -> str:
    return service.replace("_", "-")


def fullname(service: str) -> str:
    return f"{RELEASE}-mtd-vat-{component(service)}"


def default_values() -> dict[str, Any]:
    return load_values(CHART / "values.yaml")
