"""python -m chaos.drills [--drill NAME ...] [--stack DIR] [--rate N] [--fault-seconds S]

Runs the drills (all, in order, unless named) on a local stack under steady submission
load, prints a pass/fail table with recovery times and writes JSON to chaos/results/.
Without --stack (or MTD_LOCAL_DIR) it starts a fresh stack in a temporary directory and
stops it afterwards; it never drills the repository's .local stack unless told to.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from chaos.drills.runner import (
    TARGET_SECONDS,
    DrillResult,
    Session,
    available,
    drill_stack,
    run_session,
    write_results,
)

console = Console()


def row(result: DrillResult) -> tuple[str, str, str, str]:
    verdict = "[green]PASS[/]" if result.passed else "[red]FAIL[/]"
    if result.recovery_seconds is None:
        recovery = "-"
    else:
        colour = "green" if result.within_target else "yellow"
        recovery = f"[{colour}]{result.recovery_seconds:.1f}[/]"
    return result.name, verdict, recovery, "; ".join(result.failures) or ""


def table(session: Session) -> Table:
    out = Table(title=f"chaos drills (target: steady within {TARGET_SECONDS:g}s of the fault)")
    out.add_column("drill")
    out.add_column("verdict")
    out.add_column("recovery s", justify="right")
    out.add_column("failed step / probe")
    for result in session.results:
        out.add_row(*row(result))
    final = session.final
    out.add_row(
        "final drain + integrity",
        "[green]PASS[/]" if final.get("ok") else "[red]FAIL[/]",
        "",
        "" if final.get("ok") else str(final.get("returns")),
    )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chaos.drills", description=__doc__)
    parser.add_argument("--drill", action="append", choices=available(), help="run only this")
    parser.add_argument("--list", action="store_true", help="list the drills and exit")
    parser.add_argument("--stack", type=Path, default=os.environ.get("MTD_LOCAL_DIR"))
    parser.add_argument("--rate", type=float, default=1.0, help="load: returns posted per second")
    parser.add_argument("--fault-seconds", type=float, help="shorten or lengthen HMRC faults")
    args = parser.parse_args(argv)
    if args.list:
        console.print("\n".join(available()))
        return 0
    names = args.drill or available()
    root = args.stack or Path(tempfile.mkdtemp(prefix="mtd-chaos-"))
    console.print(f"drilling the stack in {root}: {', '.join(names)}")
    started = datetime.now(UTC)

    def progress(result: DrillResult) -> None:
        console.print("  " + " ".join(row(result)[:3]))

    with drill_stack(Path(root)) as stack:
        session = run_session(
            stack, names, rate=args.rate, fault_seconds=args.fault_seconds, on_result=progress
        )
    console.print(table(session))
    path = write_results(
        session,
        {
            "started_at": started.isoformat(),
            "finished_at": datetime.now(UTC).isoformat(),
            "stack": str(root),
            "rate_per_second": args.rate,
            "load_average": os.getloadavg(),
            "cpus": os.cpu_count(),
        },
    )
    console.print(f"results: {path}")
    return 0 if session.passed else 1


if __name__ == "__main__":
    sys.exit(main())
