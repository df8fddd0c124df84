"""`python -m services.audit keys …`: rotating the KEK that wraps the per-subject keys.

    status              subject keys per KEK id (`legacy`: written before key ids)
    rewrap [--batch N]  re-wrap every live subject key under the current KEK, online
    retire KID          succeed only when no live subject key is wrapped by KID

The steps match auth's (docs/security.md): add the new key to AUDIT_KEY_ENCRYPTION_KEY as
a ring (`kid:key,…`) and roll the replicas; set AUDIT_KEY_ENCRYPTION_KEY_CURRENT to it
and roll again; `rewrap`; `retire` the old id; remove it. Erased keys stay erased: the
database function only replaces a live wrapped key it was shown (compare and set).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from services.audit.context import AuditContext
from services.audit.models import subject_keys
from services.audit.settings import AuditSettings
from services.common.database import Database
from services.common.envelope import EnvelopeError
from services.common.key_rotation import keyset_batches, retire_refusal
from services.common.settings import load_settings


@dataclass
class Rewrapped:
    rewrapped: int = 0
    unreadable: list[str] = field(default_factory=list)


def _wrapped_keys() -> sa.Select[Any]:
    return sa.select(subject_keys.c.id, subject_keys.c.wrapped_key).where(
        subject_keys.c.wrapped_key.is_not(None)
    )


async def count_by_kid(ctx: AuditContext) -> Counter[str]:
    counts: Counter[str] = Counter()
    pages = keyset_batches(ctx.transaction, _wrapped_keys(), subject_keys.c.id, 5000)
    async for _, rows in pages:
        counts.update(ctx.wrapper.keyring.data_key_id(bytes(w)) for _, w in rows)
    return counts


async def rewrap(ctx: AuditContext, *, batch_size: int = 200) -> Rewrapped:
    keyring = ctx.wrapper.keyring
    result = Rewrapped()
    pages = keyset_batches(ctx.transaction, _wrapped_keys(), subject_keys.c.id, batch_size)
    async for session, rows in pages:
        for key_id, wrapped in rows:
            old = bytes(wrapped)
            if keyring.data_key_id(old) == keyring.current_kid:
                continue
            try:
                new = keyring.rewrap_data_key(old, key_id.bytes)
            except EnvelopeError:
                result.unreadable.append(str(key_id))
                continue
            changed = await session.scalar(
                sa.select(sa.func.audit_rewrap_subject_key(key_id, old, new))
            )
            result.rewrapped += bool(changed)
    return result


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m services.audit keys")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("status", help="subject keys per KEK id")
    rewrap_cmd = sub.add_parser("rewrap", help="re-wrap every subject key under the current KEK")
    rewrap_cmd.add_argument("--batch", type=int, default=200)
    retire = sub.add_parser("retire", help="check that no subject key is wrapped by KID")
    retire.add_argument("kid")
    return parser


async def run(settings: AuditSettings, argv: list[str]) -> int:
    from services.audit.sealing import KeyWrapper

    args = _parser().parse_args(argv)
    assert settings.database_url is not None, "AUDIT_DATABASE_URL is required"
    db = Database(settings.database_url.get_secret_value(), pool_size=1, max_overflow=0)
    ctx = AuditContext(settings, db, KeyWrapper(settings.keyring()))
    current = ctx.wrapper.keyring.current_kid
    try:
        if args.command == "rewrap":
            done = await rewrap(ctx, batch_size=args.batch)
            out = {"current": current, "rewrapped": done.rewrapped, "unreadable": done.unreadable}
            print(json.dumps(out))
            return 1 if done.unreadable else 0
        counts = await count_by_kid(ctx)
        if args.command == "status":
            print(json.dumps({"current": current, "subject_keys": dict(counts)}))
            return 0
        refusal = retire_refusal(args.kid, current, counts[args.kid], "subject keys")
        if refusal:
            print(refusal, file=sys.stderr)
            return 1
        print(f"{args.kid} wraps nothing: remove it from AUDIT_KEY_ENCRYPTION_KEY")
        return 0
    finally:
        await db.dispose()


def main(argv: list[str]) -> int:
    return asyncio.run(run(load_settings(AuditSettings), argv))
