"""python -m services.stack up|down|status|logs [service] [-n lines] | migrate"""

from __future__ import annotations

import argparse
import os

from services.stack.launcher import Stack


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.stack", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="start PostgreSQL, NATS and every service; wait until ready")
    sub.add_parser("down", help="stop everything; data is kept")
    sub.add_parser("status", help="show what runs and whether it is ready")
    logs = sub.add_parser("logs", help="show the last lines of each service's log")
    logs.add_argument("service", nargs="?")
    logs.add_argument("-n", "--lines", type=int, default=40)
    migrate = sub.add_parser("migrate", help="create databases and migrate them to head")
    migrate.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    args = parser.parse_args(argv)
    stack = Stack()
    if args.command == "up":
        stack.up()
    elif args.command == "down":
        stack.down()
    elif args.command == "status":
        return 0 if stack.status() else 1
    elif args.command == "logs":
        stack.logs(args.service, args.lines)
    elif args.command == "migrate":
        url = args.database_url or stack.state.get("database_url")
        if not url:
            parser.error("no database: pass --database-url, set DATABASE_URL or run `make up`")
        stack.migrate(url)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
