"""Print the mutation score of the last `mutmut run` and fail below the target.

Reads `mutants/mutmut-cicd-stats.json` (written by `mutmut export-cicd-stats`)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

TARGET = 80.0


def score(stats: dict[str, int]) -> tuple[int, int, float]:
    """Killed (timeouts and crashes of the mutant count as killed) over all mutants tested."""
    killed = stats["killed"] + stats.get("timeout", 0) + stats.get("segfault", 0)
    tested = stats["total"] - stats.get("skipped", 0)
    return killed, tested, 100.0 * killed / tested if tested else 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m contracts.mutation_score", description=__doc__)
    parser.add_argument("--stats", default="mutants/mutmut-cicd-stats.json")
    args = parser.parse_args(argv)
    stats = json.loads(Path(args.stats).read_text())
    killed, tested, percent = score(stats)
    sys.stdout.write(
        f"mutation score: {percent:.1f}% ({killed} of {tested} mutants killed; "
        f"{stats['survived']} survived, {stats.get('no_tests', 0)} not covered by any test; "
        f"target {TARGET:.0f}%)\n"
    )
    return 0 if tested and percent >= TARGET else 1


if __name__ == "__main__":
    raise SystemExit(main())
