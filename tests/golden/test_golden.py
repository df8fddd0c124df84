"""The golden dataset gates CI: the whole dataset passes against a real stack (embedded
PostgreSQL and NATS, every service as its own process, the simulator in deterministic mode),
a file changed behind the manifest's back is named as a hash mismatch, and an expected output
that no longer matches yields a readable diff and a non-zero exit."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from golden import manifest

REPO = Path(__file__).resolve().parents[2]
DATASET = REPO / "golden-dataset"
CHANGED = "obligations-not-found"


def golden(root: Path | None, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    # The stack starts its own PostgreSQL and NATS: no server of the test session's.
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "NATS_URL")}
    env.pop("MTD_LOCAL_DIR", None)
    if root is not None:
        env["MTD_LOCAL_DIR"] = str(root)
    return subprocess.run(
        [sys.executable, "-m", "golden", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="module")
def stack_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One stack for the module's runs (kept between them, stopped at the end)."""
    root = tmp_path_factory.mktemp("golden-stack")
    yield root
    subprocess.run(
        [sys.executable, "-m", "services.stack", "down"],
        cwd=REPO,
        env={**os.environ, "MTD_LOCAL_DIR": str(root)},
        capture_output=True,
        timeout=120,
        check=False,
    )


def copy_dataset(tmp_path: Path) -> Path:
    copy = tmp_path / "golden-dataset"
    shutil.copytree(DATASET, copy)
    return copy


def test_the_committed_manifest_lists_every_file_of_the_dataset() -> None:
    assert manifest.problems(DATASET) == []
    scenarios = [p for p in DATASET.iterdir() if (p / "scenario.yaml").is_file()]
    assert len(scenarios) >= 40
    for scenario in scenarios:
        for output in ("responses.json", "hmrc_requests.json", "audit.json"):
            assert (scenario / "expected" / output).is_file(), (scenario.name, output)


@pytest.mark.timeout(900)
def test_the_whole_dataset_passes_against_the_stack(stack_root: Path) -> None:
    result = golden(stack_root, "run", "--keep-stack", timeout=840)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    count = sum(1 for p in DATASET.iterdir() if (p / "scenario.yaml").is_file())
    assert f"{count} scenarios passed" in result.stdout
    assert "DIFF" not in result.stdout


def test_a_tampered_file_is_a_hash_mismatch_naming_it(tmp_path: Path) -> None:
    copy = copy_dataset(tmp_path)
    tampered = copy / "validation-box5-not-difference" / "expected" / "responses.json"
    tampered.write_text(tampered.read_text().replace("VAT_NET_VALUE", "VAT_NET_VALUE_X", 1))
    # The manifest is checked before any stack starts, so no MTD_LOCAL_DIR is needed.
    result = golden(None, "run", "--dataset", str(copy), timeout=60)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "hash mismatch: validation-box5-not-difference/expected/responses.json" in result.stdout
    assert result.stdout.count("hash mismatch:") == 1
    assert "FAILED" in result.stdout


@pytest.mark.timeout(600)
def test_a_changed_expected_output_gives_a_diff_and_fails(stack_root: Path, tmp_path: Path) -> None:
    copy = copy_dataset(tmp_path)
    path = copy / CHANGED / "expected" / "responses.json"
    responses = json.loads(path.read_text())
    responses[0]["status"] = 299
    path.write_text(json.dumps(responses, indent=2, sort_keys=True) + "\n")
    manifest.write(copy)  # a deliberate edit: the hashes agree, the outputs do not
    result = golden(stack_root, "run", "--keep-stack", "--dataset", str(copy), "--only", CHANGED)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"--- expected/{CHANGED}/responses.json" in result.stdout
    assert f"+++ actual/{CHANGED}/responses.json" in result.stdout
    assert '-    "status": 299,' in result.stdout
    assert '+    "status": 404,' in result.stdout
    assert f"DIFF    {CHANGED}" in result.stdout
