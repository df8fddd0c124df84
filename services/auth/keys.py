"""`python -m services.auth keys …`: the KEK rotation steps an operator runs.

    status              values per KEK id in every sealed column
    rewrap [--batch N]  re-wrap every data key under the current KEK, online
    retire KID          succeed only when no value is wrapped by KID any more

A KEK rotation (docs/security.md): add the new key to AUTH_ENCRYPTION_KEYS (it only
decrypts) and let every replica reload it; set AUTH_ENCRYPTION_KEY_CURRENT to it; run
`rewrap`; `retire` the old id; then remove it from the keyring.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from services.auth import sealed
from services.auth.keymaterial import load_key_material
from services.auth.settings import AuthSettings
from services.common.database import Database
from services.common.key_rotation import retire_refusal
from services.common.settings import load_settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m services.auth keys")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("status", help="values per KEK id in every sealed column")
    rewrap = sub.add_parser("rewrap", help="re-wrap every value under the current KEK")
    rewrap.add_argument("--batch", type=int, default=200)
    rewrap.add_argument("--pause", type=float, default=0.05, help="seconds between batches")
    retire = sub.add_parser("retire", help="check that no value is wrapped by KID")
    retire.add_argument("kid")
    return parser


async def run(settings: AuthSettings, argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    assert settings.database_url is not None, "AUTH_DATABASE_URL is required"
    keys = load_key_material(settings)
    db = Database(settings.database_url.get_secret_value(), pool_size=1, max_overflow=0)
    try:
        if args.command == "rewrap":
            result = await sealed.rewrap(
                db, keys.envelope, keys.identifiers, batch_size=args.batch, pause=args.pause
            )
            print(
                json.dumps(
                    {
                        "current": keys.envelope.current_kid,
                        "rewrapped": result.rewrapped,
                        "rehashed": result.rehashed,
                        "unreadable": result.unreadable,
                    }
                )
            )
            return 1 if result.unreadable else 0
        counts = await sealed.count_by_kid(db)
        totals = sealed.totals_by_kid(counts)
        if args.command == "status":
            print(json.dumps({"current": keys.envelope.current_kid, "columns": counts}))
            return 0
        refusal = retire_refusal(args.kid, keys.envelope.current_kid, totals[args.kid], "values")
        if refusal:
            print(refusal, file=sys.stderr)
            return 1
        print(f"{args.kid} wraps nothing: remove it from AUTH_ENCRYPTION_KEYS")
        return 0
    finally:
        await db.dispose()


def main(argv: list[str]) -> int:
    return asyncio.run(run(load_settings(AuthSettings), argv))
