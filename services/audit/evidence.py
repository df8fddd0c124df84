"""The evidence pack HMRC asks for before granting production credentials: every HMRC
exchange for a VRN and date range as JSON Lines, led by a summary of the endpoints covered
and of the fraud prevention header validation results."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa

from services.audit.context import AuditContext
from services.audit.models import bodies, records
from services.audit.queries import Filters, conditions, open_keys, present_row
from services.common import jsonutil

# The VAT (MTD) API's endpoints (contracts/hmrc/vat-api/openapi-current/application.yaml).
VAT_API_ENDPOINTS = (
    ("GET", "/organisations/vat/{vrn}/obligations"),
    ("POST", "/organisations/vat/{vrn}/returns"),
    ("GET", "/organisations/vat/{vrn}/returns/{periodKey}"),
    ("GET", "/organisations/vat/{vrn}/liabilities"),
    ("GET", "/organisations/vat/{vrn}/payments"),
    ("GET", "/organisations/vat/{vrn}/penalties"),
    ("GET", "/organisations/vat/{vrn}/financial-details/{penaltyChargeReference}"),
    ("GET", "/organisations/vat/{vrn}/information"),
)
FRAUD_RESULTS = ("valid", "valid_with_warnings", "invalid", "not_checked")
CHUNK = 500


def day_range(first: date, last: date) -> tuple[datetime, datetime]:
    """[first 00:00 UTC, the day after `last` 00:00 UTC)."""
    start = datetime.combine(first, time.min, tzinfo=UTC)
    return start, datetime.combine(last + timedelta(days=1), time.min, tzinfo=UTC)


def _filters(tenant_id: str | None, vrn: str | None, first: date, last: date) -> Filters:
    start, end = day_range(first, last)
    return Filters(
        tenant_id=tenant_id,
        kind="hmrc_exchange",
        vrn=vrn,
        occurred_from=start,
        occurred_to=end,
    )


async def summary(
    ctx: AuditContext, tenant_id: str | None, vrn: str | None, first: date, last: date
) -> dict[str, Any]:
    where = [*conditions(_filters(tenant_id, vrn, first, last)), records.c.content.is_not(None)]
    async with ctx.transaction() as session:
        per_endpoint = (
            await session.execute(
                sa.select(
                    records.c.method,
                    records.c.endpoint,
                    records.c.response_status,
                    records.c.fraud_result,
                    sa.func.count(),
                )
                .where(*where)
                .group_by(
                    records.c.method,
                    records.c.endpoint,
                    records.c.response_status,
                    records.c.fraud_result,
                )
            )
        ).all()
        # Only exchanges with findings carry issue codes; few enough to count here.
        flagged = await session.stream_scalars(
            sa.select(records.c.content).where(
                *where, records.c.fraud_result.in_(("invalid", "valid_with_warnings"))
            )
        )
        error_codes: Counter[str] = Counter()
        warning_codes: Counter[str] = Counter()
        async for raw in flagged:
            validation = jsonutil.loads(raw).get("fraud_validation") or {}
            error_codes.update(str(i.get("code")) for i in validation.get("errors", []))
            warning_codes.update(str(i.get("code")) for i in validation.get("warnings", []))
    endpoints: dict[tuple[str, str], dict[str, Any]] = {}
    fraud: Counter[str] = Counter()
    total = 0
    for method, endpoint, status, result, count in per_endpoint:
        entry = endpoints.setdefault(
            (method, endpoint),
            {"method": method, "endpoint": endpoint, "exchanges": 0, "statuses": Counter()},
        )
        entry["exchanges"] += count
        entry["statuses"][str(status) if status is not None else "no_response"] += count
        fraud[result or "missing"] += count
        total += count
    covered = sorted(endpoints.values(), key=lambda e: (e["endpoint"], e["method"]))
    for entry in covered:
        entry["statuses"] = dict(sorted(entry["statuses"].items()))
    return {
        "type": "summary",
        "generated_at": datetime.now(UTC).isoformat(),
        "tenant_id": tenant_id,
        "vrn": vrn,
        "from": first.isoformat(),
        "to": last.isoformat(),
        "exchanges": total,
        "endpoints_covered": covered,
        "endpoints_not_covered": [
            {"method": m, "endpoint": e} for m, e in VAT_API_ENDPOINTS if (m, e) not in endpoints
        ],
        "fraud_headers": {
            **{r: fraud.get(r, 0) for r in FRAUD_RESULTS},
            "missing": fraud.get("missing", 0),
            "error_codes": dict(sorted(error_codes.items())),
            "warning_codes": dict(sorted(warning_codes.items())),
        },
    }


def exchange_line(item: dict[str, Any]) -> dict[str, Any]:
    personal = item.get("personal") or {}
    body = item.get("body") or {}
    return {
        "type": "exchange",
        **{
            k: item.get(k)
            for k in (
                "seq",
                "record_id",
                "hash",
                "occurred_at",
                "started_at",
                "finished_at",
                "duration_ms",
                "attempt",
                "method",
                "endpoint",
                "path",
                "vrn",
                "period_key",
                "submission_id",
                "correlation_id",
                "trace_id",
                "response_status",
                "error",
                "fraud_validation",
            )
        },
        "request_headers": personal.get("request_headers"),
        "response_headers": personal.get("response_headers"),
        "headers_state": item.get("personal_state"),
        "request_body": body.get("request_body"),
        "response_body": body.get("response_body"),
        "body_state": item.get("body_state"),
    }


async def lines(
    ctx: AuditContext, tenant_id: str | None, vrn: str | None, first: date, last: date
) -> AsyncIterator[str]:
    """The pack, one JSON document per line; read in chunks so memory stays flat."""
    yield jsonutil.dumps(await summary(ctx, tenant_id, vrn, first, last)) + "\n"
    where = [*conditions(_filters(tenant_id, vrn, first, last)), records.c.content.is_not(None)]
    after = 0
    while True:
        async with ctx.transaction() as session:
            rows = (
                await session.execute(
                    sa.select(records, bodies.c.sealed.label("body_sealed"))
                    .select_from(records.outerjoin(bodies, bodies.c.seq == records.c.seq))
                    .where(records.c.seq > after, *where)
                    .order_by(records.c.seq)
                    .limit(CHUNK)
                )
            ).all()
            keys = await open_keys(session, ctx.wrapper, (r.subject_key_id for r in rows))
        for row in rows:
            yield jsonutil.dumps(exchange_line(present_row(row, keys.get(row.subject_key_id))))
            yield "\n"
        if len(rows) < CHUNK:
            return
        after = rows[-1].seq
