"""The rotation benchmark, short: auth processes reading a mounted secrets directory, load
while the KEK and the signing key rotate, re-wrap online, the old KEK retired."""

from __future__ import annotations

import subprocess
import sys


def test_rotation_bench_runs_clean() -> None:
    args = ["--seconds", "12", "--rate", "10", "--replicas", "1", "--users", "3"]
    done = subprocess.run(
        [sys.executable, "-m", "services.auth.bench", *args],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert "failures: 0" in out
    assert "exit 1 (refused:" in out  # retire refused before the re-wrap
    assert "k1 wraps nothing" in out
    assert "still under a retired KEK: none" in out
    tokens = next(line for line in out.splitlines() if line.startswith("tokens by kid"))
    assert "'old " in tokens and "'new " in tokens
