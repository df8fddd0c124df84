"""Every metric a service registers is in the telemetry registry, with its type and labels."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import yaml
from prometheus_client import REGISTRY

import services

REGISTRY_FILE = Path(__file__).resolve().parents[2] / "deploy" / "telemetry" / "registry.yaml"
# prometheus_client's own process and platform collectors are not ours to document.
FOREIGN_PREFIXES = ("python_", "process_")


def import_all_services() -> None:
    for module in pkgutil.walk_packages(services.__path__, "services."):
        name = module.name
        if ".migrations" in name or name.endswith("__main__") or ".bench" in name:
            continue
        importlib.import_module(name)


def registered() -> dict[str, tuple[str, frozenset[str]]]:
    import_all_services()
    found = {}
    # The registry has no public list of its collectors.
    for collector in list(REGISTRY._collector_to_names):
        for family in collector.describe() if hasattr(collector, "describe") else []:
            if family.name.startswith(FOREIGN_PREFIXES):
                continue
            labels = frozenset(getattr(collector, "_labelnames", ()))
            found[family.name] = (family.type, labels)
    return found


def test_every_registered_metric_is_documented_with_its_type_and_labels() -> None:
    documented = yaml.safe_load(REGISTRY_FILE.read_text())["metrics"]
    actual = registered()
    assert actual, "no metrics found: the import walk is broken"
    missing = sorted(set(actual) - set(documented))
    assert not missing, f"metrics missing from {REGISTRY_FILE.name}: {missing}"
    for name, (kind, labels) in actual.items():
        entry = documented[name]
        assert entry["type"] == kind, name
        assert frozenset(entry["labels"]) == labels, name
