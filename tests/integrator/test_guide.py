"""docs/integrating.md cannot rot: its tested examples run, literally and in order, against a
real local stack, and its error tables name every code the public API can answer with."""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

from services.common import errors
from services.common.hmrc_error_map import MAPPINGS
from tests.integrator.conftest import LocalStack

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "integrating.md"
BLOCK = re.compile(r"^```(sh|python) test\n(.*?)^```$", re.MULTILINE | re.DOTALL)
# Code that never answers an API client (the simulator, the local stack, the CLI itself).
NOT_PUBLIC = ("hmrc_sandbox", "stack", "cli")
# Internal endpoints only: the gateway's validator switch and its uncertain-outcome answer,
# which the submission worker turns into reconciliation, never into a client's error.
INTERNAL_ONLY = {"HMRC_VALIDATION_DISABLED", "SUBMISSION_OUTCOME_UNCERTAIN"}
PROBLEM_CALLS = {"ProblemError", "problem_response", "unauthorized", "CallbackError"}


def blocks() -> list[tuple[str, str, int]]:
    text = GUIDE.read_text()
    return [
        (m.group(1), m.group(2), text.count("\n", 0, m.start()) + 1) for m in BLOCK.finditer(text)
    ]


def script() -> str:
    """One shell session: sh blocks as they are, python blocks fed to `python3 -`."""
    parts = ["set -euo pipefail"]
    for n, (kind, body, line) in enumerate(blocks(), 1):
        parts.append(f"echo '>>> block {n} (docs/integrating.md:{line})' >&2")
        if kind == "sh":
            parts.append(body)
        else:
            parts.append(f"python3 - <<'GUIDE_PYTHON'\n{body}GUIDE_PYTHON")
    return "\n".join(parts) + "\n"


def test_the_guides_examples_run_against_a_real_stack(
    local_stack: LocalStack, tmp_path: Path
) -> None:
    found = blocks()
    assert sum(kind == "sh" for kind, _, _ in found) >= 15
    assert sum(kind == "python" for kind, _, _ in found) >= 2
    run = subprocess.run(
        ["bash", "-c", script()],
        env=local_stack.process_env(),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    last_block = [line for line in run.stderr.splitlines() if line.startswith(">>> block")][-1:]
    assert run.returncode == 0, f"{last_block} failed:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    assert f">>> block {len(found)} " in run.stderr  # every block ran
    assert re.search(r"^accepted: \d{12} ", run.stdout, re.MULTILINE), run.stdout[-2000:]


def public_codes() -> set[str]:
    """Every literal code a public service can put in a problem document."""
    codes: set[str] = set()
    for path in (ROOT / "services").rglob("*.py"):
        if any(part in NOT_PUBLIC for part in path.relative_to(ROOT / "services").parts[:1]):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            args = node.args
            if name == "unauthorized":
                code = args[1] if len(args) > 1 else None
                codes.add(str(code.value) if isinstance(code, ast.Constant) else "INVALID_TOKEN")
            elif name in PROBLEM_CALLS and len(args) > 1 and isinstance(args[1], ast.Constant):
                codes.add(str(args[1].value))
            elif name in PROBLEM_CALLS and len(args) > 1 and isinstance(args[1], ast.IfExp):
                codes |= {
                    str(branch.value)
                    for branch in (args[1].body, args[1].orelse)
                    if isinstance(branch, ast.Constant)
                }
    codes |= {m.code for m in MAPPINGS.values()}
    codes |= set(errors._STATUS_CODES.values())
    return codes - INTERNAL_ONLY


def guide_codes() -> set[str]:
    errors_section = GUIDE.read_text().split("## 10. Errors", 1)[1].split("## 11.", 1)[0]
    return set(re.findall(r"^\| `([A-Z][A-Z0-9_<>a-z]+)` \|", errors_section, re.MULTILINE))


def test_the_guide_explains_every_error_code() -> None:
    missing = public_codes() - guide_codes()
    assert not missing, f"codes the API can answer with but docs/integrating.md omits: {missing}"


def test_every_code_in_the_guide_exists() -> None:
    """No invented codes: each one the tables name is a literal somewhere in the code."""
    sources = "\n".join(p.read_text() for p in (ROOT / "services").rglob("*.py"))
    sources += (ROOT / "contracts/hmrc/vat-api/derived/error-catalogue.json").read_text()
    for code in guide_codes():
        literal = code.split("<", 1)[0]
        assert f'"{literal}' in sources or f"'{literal}" in sources, code
