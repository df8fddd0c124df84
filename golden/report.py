"""What the runner tells the terminal: progress lines and unified diffs."""

from __future__ import annotations

import difflib
import sys


def say(message: str) -> None:
    sys.stdout.write(message + "\n")
    sys.stdout.flush()


def unified_diff(expected: str, actual: str, name: str) -> str:
    lines = difflib.unified_diff(
        expected.splitlines(keepends=True),
        actual.splitlines(keepends=True),
        fromfile=f"expected/{name}",
        tofile=f"actual/{name}",
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)
