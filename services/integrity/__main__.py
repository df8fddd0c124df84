"""python -m services.integrity [--stack DIR | --submission-db URL --audit-db URL]
[--simulator URL] [--stuck-after SECONDS] [--json]

Exit 0 when every invariant holds, 1 otherwise (a check that could not run fails).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from datetime import timedelta
from pathlib import Path

from services.integrity.run import Targets, from_environment, from_stack, run


def parse(argv: list[str] | None) -> tuple[Targets, bool]:
    parser = argparse.ArgumentParser(prog="python -m services.integrity", description=__doc__)
    parser.add_argument("--stack", type=Path, help="a local stack's directory (its stack.env)")
    parser.add_argument("--submission-db", help="the submission service's database URL")
    parser.add_argument("--audit-db", help="the audit service's database URL")
    parser.add_argument("--simulator", help="the HMRC simulator's base URL (control API on)")
    parser.add_argument(
        "--stuck-after",
        type=float,
        default=float(os.environ.get("INTEGRITY_STUCK_AFTER_SECONDS", "900")),
        help="a pending return older than this is lost (default 900 s, the 15-minute SLO)",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    stuck_after = timedelta(seconds=args.stuck_after)
    targets: Targets | None
    if args.stack:
        targets = from_stack(args.stack, stuck_after)
    elif args.submission_db and args.audit_db:
        targets = Targets(args.submission_db, args.audit_db, None, stuck_after)
    else:
        targets = from_environment(stuck_after)
    if targets is None:
        parser.error(
            "give --stack, or --submission-db and --audit-db, or set "
            "INTEGRITY_SUBMISSION_DATABASE_URL and INTEGRITY_AUDIT_DATABASE_URL"
        )
    if args.simulator:
        targets = Targets(targets.submission_db, targets.audit_db, args.simulator, stuck_after)
    return targets, args.json


def main(argv: list[str] | None = None) -> int:
    targets, as_json = parse(argv)
    report = asyncio.run(run(targets))
    out = json.dumps(report.as_json(), indent=2) if as_json else report.text()
    sys.stdout.write(out + "\n")
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
