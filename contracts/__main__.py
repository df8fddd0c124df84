"""`python -m contracts` regenerates the OpenAPI documents and the model-derived event
schemas; `python -m contracts --check` only says which are out of date (exit 1)."""

from __future__ import annotations

import argparse
import sys

from contracts import REGENERATE, ROOT, events, openapi_docs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m contracts", description=__doc__)
    parser.add_argument("--check", action="store_true", help="compare only; write nothing")
    args = parser.parse_args(argv)
    if args.check:
        stale = [f"openapi/{s}.json" for s in openapi_docs.stale()]
        stale += [f"events/{n}.schema.json" for n in events.stale()]
        for name in stale:
            sys.stderr.write(f"out of date: contracts/{name} (run `{REGENERATE}`)\n")
        return 1 if stale else 0
    for path in [*openapi_docs.write_all(), *events.write_generated()]:
        sys.stdout.write(f"wrote {path.relative_to(ROOT.parent)}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
