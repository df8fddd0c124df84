"""python -m golden run|update [--dataset DIR] [--only NAME ...] [--keep-stack]"""

from __future__ import annotations

import argparse
from pathlib import Path

from golden.run import execute

DEFAULT_DATASET = Path(__file__).resolve().parent.parent / "golden-dataset"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m golden", description=__doc__)
    parser.add_argument("command", choices=("run", "update"))
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
    parser.add_argument("--only", nargs="+", metavar="SCENARIO", help="run these scenarios only")
    parser.add_argument(
        "--keep-stack", action="store_true", help="leave the stack running, wired for a next run"
    )
    args = parser.parse_args(argv)
    return execute(args.dataset, args.command == "update", args.only, args.keep_stack)


if __name__ == "__main__":
    raise SystemExit(main())
