"""One real local stack (`python -m services.stack up`, as `make up` runs it) in a temporary
MTD_LOCAL_DIR for the integrator suites: the guide's examples, the CLI and the demo."""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from services.cli.config import stack_env

# The stack's own servers, not the test session's: the examples run against what `make up`
# gives an integrator.
_NOT_INHERITED = ("DATABASE_URL", "NATS_URL", "MTD_LOCAL_DIR")


@dataclass(frozen=True)
class LocalStack:
    root: Path
    env: dict[str, str]  # stack.env

    def process_env(self, **extra: str) -> dict[str, str]:
        """The environment of a process an integrator runs: only MTD_LOCAL_DIR is set,
        and this interpreter's directory comes first on PATH (`python3` has httpx)."""
        env = {k: v for k, v in os.environ.items() if k not in _NOT_INHERITED}
        env["MTD_LOCAL_DIR"] = str(self.root)
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        env.update(extra)
        return env


def _stack(root: Path, command: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.stack", command],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    root = tmp_path_factory.mktemp("stack")
    env = {k: v for k, v in os.environ.items() if k not in _NOT_INHERITED}
    env["MTD_LOCAL_DIR"] = str(root)
    # Webhooks need key material; the stack passes SUBMISSION_* settings through.
    env["SUBMISSION_WEBHOOK_KEYS"] = base64.b64encode(secrets.token_bytes(32)).decode()
    up = _stack(root, "up", env)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        yield LocalStack(root, stack_env(str(root)))
    finally:
        _stack(root, "down", env)
