"""A scenario's inputs (scenario.yaml) and the `${name}` templating its steps use."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

SCENARIO_FILE = "scenario.yaml"
EXPECTED = "expected"
SHARED = "_shared"
_VAR = re.compile(r"\$\{([a-zA-Z_][\w]*)\}")


@dataclass
class Scenario:
    name: str
    path: Path
    description: str
    seed: int
    clock: str
    roles: list[str]
    connect: bool
    vrn: str
    steps: list[dict[str, Any]] = field(default_factory=list)


def load(path: Path) -> Scenario:
    doc = yaml.safe_load((path / SCENARIO_FILE).read_text())
    simulator = doc.get("simulator", {})
    setup = doc.get("setup", {})
    return Scenario(
        name=path.name,
        path=path,
        description=str(doc.get("description", "")),
        seed=int(simulator["seed"]),
        clock=str(simulator["clock"]),
        roles=list(setup.get("roles", ["submitter", "auditor"])),
        connect=bool(setup.get("connect", True)),
        vrn=str(setup.get("vrn", "176033917")),
        steps=list(doc.get("steps", [])),
    )


def discover(root: Path, only: list[str] | None = None) -> list[Scenario]:
    found = sorted(p for p in root.iterdir() if (p / SCENARIO_FILE).is_file())
    if only:
        missing = set(only) - {p.name for p in found}
        if missing:
            raise SystemExit(f"no such scenario: {', '.join(sorted(missing))}")
        found = [p for p in found if p.name in only]
    return [load(p) for p in found]


def shared(root: Path, name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((root / SHARED / f"{name}.yaml").read_text())
    return data


def fill(template: Any, variables: dict[str, str]) -> Any:
    """Substitute `${name}` in every string of a step (unknown names are an error)."""
    if isinstance(template, str):

        def value(match: re.Match[str]) -> str:
            name = match[1]
            if name not in variables:
                raise KeyError(f"${{{name}}} is not set at this step")
            return variables[name]

        return _VAR.sub(value, template)
    if isinstance(template, dict):
        return {k: fill(v, variables) for k, v in template.items()}
    if isinstance(template, list):
        return [fill(v, variables) for v in template]
    return template
