"""Migrate service databases to head: ``python -m deploy.migrate SERVICE [SERVICE ...]``.

The chart's migration Job (a pre-install/pre-upgrade hook) runs this once per service before
any pod of a new version starts, so a service never meets an unmigrated database. Each
service's URL comes from the setting the service itself reads, ``<PREFIX>DATABASE_URL``
(``AUTH_DATABASE_URL`` ...), from the same sources (services/common/secrets_source.py).
Unlike ``python -m services.stack migrate`` it creates no database: in a cluster the
databases belong to the PostgreSQL operator or the managed service.
"""

from __future__ import annotations

import argparse
import sys

from services.common import migrations
from services.common.database import redacted
from services.common.secrets_source import SecretSource, SecretSourceError


def url_setting(service: str) -> str:
    return f"{service.upper()}_DATABASE_URL"


def database_url(service: str) -> str:
    """The service's database URL, from wherever the service itself reads it."""
    name = url_setting(service)
    try:
        value = SecretSource().get(name)
    except SecretSourceError as exc:
        raise SystemExit(f"configuration error: {exc}") from None
    if value:
        return value
    raise SystemExit(f"configuration error: {name} is required but not set")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.migrate", description=__doc__)
    parser.add_argument("services", nargs="+", choices=migrations.SERVICES_WITH_DATABASE)
    args = parser.parse_args(argv)
    for service in args.services:
        url = database_url(service)
        head = migrations.head_revision(service)
        print(f"{service}: migrating {redacted(url)} to {head}", flush=True)  # noqa: T201
        try:
            migrations.upgrade(service, url)
        except Exception as exc:
            first = (str(exc) or type(exc).__name__).splitlines()[0][:300]
            print(f"{service}: migration failed: {first}", file=sys.stderr)  # noqa: T201
            return 1
        print(f"{service}: at {head}", flush=True)  # noqa: T201
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
