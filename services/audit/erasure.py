"""Right to erasure: destroy a data subject's keys; record that it happened, in the chain.

The sealed personal data stays where it is, as ciphertext nobody can open any more (in
the database and in its backups); the chain hashes that ciphertext, so it verifies as
before. The erasure itself becomes a privileged-action record. It names the subject only
by a SHA-256 of (tenant, subject): whoever knows the subject can confirm the
erasure; the log does not keep the identifier in clear.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from services.audit import appender
from services.audit.context import AuditContext
from services.audit.models import records, subject_keys
from services.audit.records import PRIVILEGED_ACTION, Draft
from services.common.errors import ProblemError
from services.common.security.jwt_verify import Principal

ERASURE_CONSUMER = "audit-erasure"


@dataclass(frozen=True)
class Erasure:
    tenant_id: str | None
    keys_destroyed: int
    records_made_unreadable: int
    erased_at: datetime
    record_id: str


def subject_digest(tenant_id: str | None, data_subject: str) -> str:
    return hashlib.sha256(f"{tenant_id or ''}\n{data_subject}".encode()).hexdigest()


async def erase(
    ctx: AuditContext, tenant_id: str | None, data_subject: str, actor: Principal
) -> Erasure:
    tenant_key = tenant_id or ""
    async with ctx.transaction() as session:
        known = (
            await session.execute(
                sa.select(sa.func.count()).where(
                    subject_keys.c.tenant_id == tenant_key,
                    subject_keys.c.data_subject == data_subject,
                )
            )
        ).scalar_one()
        if not known:
            raise ProblemError(
                404, "DATA_SUBJECT_UNKNOWN", "The audit log holds no data for this subject."
            )
        destroyed: list[uuid.UUID] = list(
            (
                await session.execute(
                    sa.select(sa.column("audit_erase_subject")).select_from(
                        sa.func.audit_erase_subject(tenant_key, data_subject)
                    )
                )
            ).scalars()
        )
        affected = 0
        if destroyed:
            affected = (
                await session.execute(
                    sa.select(sa.func.count()).where(records.c.subject_key_id.in_(destroyed))
                )
            ).scalar_one()
        now = datetime.now(UTC)
        digest = subject_digest(tenant_id, data_subject)
        indexed = {
            "subject": "audit.audit.data_subject_erased",
            "vrn": None,
            "period_key": None,
            "submission_id": None,
            "trace_id": None,
            "correlation_id": None,
            "method": None,
            "endpoint": None,
            "response_status": None,
            "fraud_result": None,
            "action": "data_subject_erased",
            "actor_id": actor.subject,
        }
        note = Draft(
            message_id=f"erasure:{uuid.uuid4()}",
            kind="privileged_action",
            record_class=PRIVILEGED_ACTION,
            tenant_id=tenant_id,
            occurred_at=now,
            data_subject=f"erasure:{digest}",
            public={
                **indexed,
                "service": "audit",
                "actor": {"kind": actor.kind, "id": actor.subject, "tenant_id": actor.tenant_id},
                "target": {"type": "data_subject_sha256", "id": digest},
                "keys_destroyed": len(destroyed),
                "records_made_unreadable": affected,
            },
            indexed=indexed,
        )
        [appended] = await appender.append(session, ctx.wrapper, [note], consumer=ERASURE_CONSUMER)
    return Erasure(tenant_id, len(destroyed), affected, now, str(appended.record_id))
