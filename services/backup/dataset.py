"""A realistic dataset for drills: returns in every state of the submission state machine,
their transitions, and one hash-chained audit record per transition, written through the
real schemas (migrations) and the real chain code, with SQL and COPY for speed."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg

from services.audit import chain
from services.audit.records import draft
from services.common.audit_events import SubmissionStateChange

# Share of returns per final state (what a busy quarter looks like), with the path each
# state's returns took through the state machine.
STATES: dict[str, tuple[float, tuple[str, ...]]] = {
    "accepted": (0.86, ("received", "queued", "submitting", "accepted")),
    "rejected": (0.04, ("received", "queued", "submitting", "rejected")),
    "queued": (0.04, ("received", "queued")),
    "received": (0.02, ("received",)),
    "submitting": (0.02, ("received", "queued", "submitting")),
    "uncertain": (0.01, ("received", "queued", "submitting", "uncertain")),
    "reconciling": (0.01, ("received", "queued", "submitting", "uncertain", "reconciling")),
}
WRITER_TENANT = "drill-writer"


def _state_case() -> str:
    """SQL choosing a state from a uniform r in [0, 1) by the shares above."""
    parts, edge = [], 0.0
    for state, (share, _) in STATES.items():
        edge += share
        parts.append(f"WHEN r < {edge:.6f} THEN '{state}'")
    return "CASE " + " ".join(parts) + " ELSE 'accepted' END"


def _paths_values() -> str:
    rows = []
    for state, (_, path) in STATES.items():
        previous = "NULL"
        for step, to_state in enumerate(path):
            rows.append(f"('{state}', {step}, {previous}, '{to_state}')")
            previous = f"'{to_state}'"
    return ", ".join(rows)


# SQL built from this module's constants only (never from input); values are bind
# parameters. Hence the S608/B608 markers.
SUBMISSIONS_SQL = f"""
INSERT INTO submissions (id, tenant_id, vrn, period_key, due_date, idempotency_key,
    request_hash, vat_return, client_context, state, attempts, next_attempt_at, claimed_by,
    claimed_at, error_code, error_message, receipt, trace_context, created_at, updated_at)
SELECT md5('submission' || i)::uuid,
       'tenant-' || lpad((i % 200)::text, 3, '0'),
       (100000000 + i / 4)::text,
       (ARRAY['25A1', '25A2', '25A3', '25A4'])[i % 4 + 1],
       date '2025-05-07' + (i % 4) * 92,
       'idem-' || md5('idem' || i),
       md5('request' || i) || md5('hash' || i),
       jsonb_build_object(
           'periodKey', (ARRAY['25A1', '25A2', '25A3', '25A4'])[i % 4 + 1],
           'vatDueSales', to_char(sales, 'FM999999990.00'),
           'vatDueAcquisitions', '0.00',
           'totalVatDue', to_char(sales, 'FM999999990.00'),
           'vatReclaimedCurrPeriod', to_char(sales / 3, 'FM999999990.00'),
           'netVatDue', to_char(sales - sales / 3, 'FM999999990.00'),
           'totalValueSalesExVAT', (sales * 5)::bigint,
           'totalValuePurchasesExVAT', (sales * 2)::bigint,
           'totalValueGoodsSuppliedExVAT', 0,
           'totalAcquisitionsExVAT', 0,
           'finalised', true),
       jsonb_build_object(
           'connection_method', 'WEB_APP_VIA_SERVER',
           'user_id', 'user-' || (i % 5000),
           'client_public_ip', '198.51.100.' || (i % 250 + 1),
           'device_id', md5('device' || (i % 5000))::uuid::text),
       state,
       CASE WHEN state IN ('received', 'queued') THEN 0 ELSE 1 END,
       created + interval '1 minute',
       CASE WHEN state = 'submitting' THEN 'worker-' || (i % 4) END,
       CASE WHEN state = 'submitting' THEN created + interval '3 seconds' END,
       CASE WHEN state = 'rejected' THEN 'INVALID_MONETARY_AMOUNT' END,
       CASE WHEN state = 'rejected' THEN 'HMRC rejected the figures' END,
       CASE WHEN state = 'accepted' THEN jsonb_build_object(
           'formBundleNumber', lpad((i * 7919 % 1000000000000)::text, 12, '0'),
           'processingDate', to_char(created + interval '4 seconds',
                                     'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
           'chargeRefNumber', 'XM' || lpad((i % 100000000)::text, 12, '0')) END,
       jsonb_build_object('traceparent',
           '00-' || md5('trace' || i) || '-' || left(md5('span' || i), 16) || '-01'),
       created,
       created + interval '4 seconds'
FROM (
    SELECT i, r, {_state_case()} AS state,
           round((100 + r * 90000)::numeric, 2) AS sales,
           $1::timestamptz - make_interval(secs => ($2 - i) * 30) AS created
    FROM generate_series(0, $2 - 1) AS i,
         LATERAL (SELECT (hashtext('state' || i) & 2147483647)::float8 / 2147483648 AS r) AS x
) AS s
"""  # noqa: S608  # nosec B608

TRANSITIONS_SQL = f"""
INSERT INTO submission_transitions (submission_id, from_state, to_state, at, reason, details)
SELECT s.id, p.from_state, p.to_state, s.created_at + make_interval(secs => p.step),
       CASE p.to_state WHEN 'uncertain' THEN 'timeout waiting for HMRC'
                       WHEN 'rejected' THEN 'INVALID_MONETARY_AMOUNT' END,
       '{{}}'::jsonb
FROM submissions s
JOIN (VALUES {_paths_values()}) AS p(state, step, from_state, to_state) ON p.state = s.state
ORDER BY s.created_at, p.step
"""  # noqa: S608  # nosec B608

AUDIT_COLUMNS = (
    "seq", "record_id", "message_id", "kind", "record_class", "tenant_id", "occurred_at",
    "ingested_at", "subject", "vrn", "period_key", "submission_id", "trace_id",
    "correlation_id", "method", "endpoint", "response_status", "fraud_result", "action",
    "actor_id", "content", "content_digest", "prev_hash", "hash",
)  # fmt: skip


async def load_submissions(conn: asyncpg.Connection, returns: int, now: datetime) -> None:
    await conn.execute(SUBMISSIONS_SQL, now, returns)
    await conn.execute(TRANSITIONS_SQL)
    await conn.execute("ANALYZE submissions; ANALYZE submission_transitions")


def audit_rows(transitions: list[Any], ingested_at: datetime) -> list[tuple[Any, ...]]:
    """Chain links for transitions, computed exactly as the audit service appends them."""
    rows: list[tuple[Any, ...]] = []
    prev = chain.GENESIS
    for seq, t in enumerate(transitions, start=1):
        subject = f"audit.submission.{t['to_state']}"
        message_id = f"submission-transition-{t['id']}"
        event = SubmissionStateChange(
            tenant_id=t["tenant_id"],
            vrn=t["vrn"],
            period_key=t["period_key"],
            submission_id=str(t["submission_id"]),
            from_state=t["from_state"],
            to_state=t["to_state"],
            reason=t["reason"],
            occurred_at=t["at"],
        )
        d = draft(subject, message_id, event, {})
        record_id = uuid.uuid5(uuid.NAMESPACE_URL, message_id)
        content = chain.canonical(
            {
                **d.public,
                "kind": d.kind,
                "record_class": d.record_class,
                "tenant_id": d.tenant_id,
                "occurred_at": chain.utc_text(d.occurred_at),
                "subject_key_id": None,
                "sealed_sha256": None,
                "body_sha256": None,
            }
        )
        digest = chain.content_digest(content)
        link = chain.link_hash(
            prev, seq=seq, record_id=record_id, message_id=message_id, kind=d.kind,
            record_class=d.record_class, tenant_id=d.tenant_id, occurred_at=d.occurred_at,
            ingested_at=ingested_at, digest=digest,
        )  # fmt: skip
        idx = d.indexed
        rows.append(
            (
                seq, record_id, message_id, d.kind, d.record_class, d.tenant_id,
                d.occurred_at, ingested_at, idx["subject"], idx["vrn"], idx["period_key"],
                idx["submission_id"], idx["trace_id"], None, None, None, None, None, None,
                None, content, digest, prev, link,
            )
        )  # fmt: skip
        prev = link
    return rows


async def load_audit(
    submission: asyncpg.Connection, audit: asyncpg.Connection, ingested_at: datetime
) -> int:
    transitions = await submission.fetch(
        """SELECT t.id, t.submission_id, t.from_state, t.to_state, t.at, t.reason,
                  s.tenant_id, s.vrn, s.period_key
           FROM submission_transitions t JOIN submissions s ON s.id = t.submission_id
           WHERE s.tenant_id <> $1 ORDER BY t.id""",
        WRITER_TENANT,
    )
    rows = audit_rows(list(transitions), ingested_at)
    await audit.copy_records_to_table("audit_records", records=rows, columns=AUDIT_COLUMNS)
    await audit.execute("ANALYZE audit_records")
    return len(rows)


async def load(
    submission: asyncpg.Connection,
    audit: asyncpg.Connection,
    returns: int,
    say: Callable[[str], None] | None = None,
) -> int:
    """Load `returns` returns and their audit chain; returns the audit record count."""
    now = datetime.now(UTC)
    await load_submissions(submission, returns, now)
    if say is not None:
        say(f"{returns:,} returns and their transitions inserted; chaining the audit log")
    return await load_audit(submission, audit, now)
