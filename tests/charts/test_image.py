"""The Dockerfile and .dockerignore, read statically (no container engine needed)."""

from __future__ import annotations

import re

from tests.charts.chart import ROOT

DOCKERFILE = (ROOT / "Dockerfile").read_text()
STAGES = re.split(r"(?m)^FROM ", DOCKERFILE)[1:]


def instructions(stage: str) -> list[str]:
    joined = re.sub(r"\\\n", " ", stage)
    return [
        line.strip()
        for line in joined.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


def test_multi_stage_with_pinned_base() -> None:
    assert len(STAGES) >= 2
    bases = {stage.split()[0] for stage in STAGES}
    assert len(bases) == 1, "build and runtime share one base"
    (base,) = bases
    assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+(@sha256:[a-f0-9]{64})?", base)


def test_final_stage_runs_as_non_root_without_build_tools() -> None:
    final = instructions(STAGES[-1])
    users = [line for line in final if line.startswith("USER ")]
    assert users and users[-1] == "USER 10001:10001"
    text = "\n".join(final)
    for tool in ("gcc", "build-essential", "apt-get install", "pip install", "make "):
        assert tool not in text, tool
    assert "PYTHONDONTWRITEBYTECODE=1" in text
    assert re.search(r"ENTRYPOINT \[\"python\", \"-m\"\]", text)
    assert "latest" not in DOCKERFILE


def test_the_decision_is_recorded() -> None:
    assert "docs/decisions/0040-images.md" in DOCKERFILE
    assert (ROOT / "docs" / "decisions" / "0040-images.md").is_file()


def test_dockerignore_keeps_the_context_small() -> None:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    assert lines[lines.index("**")] == "**"
    allowed = {line[1:] for line in lines if line.startswith("!")}
    assert allowed == {"pyproject.toml", "services/**", "contracts/**", "deploy/**"}
