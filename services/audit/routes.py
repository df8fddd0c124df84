"""HTTP API of the audit service: thin handlers over queries, chain, evidence and erasure."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from services.audit import chain, erasure, evidence, queries
from services.audit.context import AuditContext, context
from services.common.errors import ProblemError
from services.common.security.jwt_verify import Principal, forbidden, require_roles

router = APIRouter(prefix="/v1/audit", tags=["audit"])

# Tenant auditors read their tenant; support staff read one tenant only with a break-glass
# token (role break_glass, scoped to the tenant whose admin approved it).
READERS = ("auditor", "break_glass")
# The controller's admin (or the platform's) asks for erasure of a person's data.
ERASERS = ("tenant_admin", "platform_admin")
MAX_EVIDENCE_DAYS = 366

Ctx = Annotated[AuditContext, Depends(context)]
Reader = Annotated[Principal, Depends(require_roles(*READERS))]
Eraser = Annotated[Principal, Depends(require_roles(*ERASERS))]
Vrn = Annotated[str | None, Query(pattern=r"^\d{9}$", description="VAT registration number")]
PeriodKey = Annotated[str | None, Query(min_length=1, max_length=8)]
Text = Annotated[str | None, Query(min_length=1, max_length=200)]
From = Annotated[datetime | None, Query(alias="from", description="occurred at or after (UTC)")]
To = Annotated[datetime | None, Query(alias="to", description="occurred before (UTC)")]
Cursor = Annotated[str | None, Query(max_length=200)]


def tenant_scope(principal: Principal, requested: str | None) -> str | None:
    """The tenant the caller may read; None means every tenant (platform callers only)."""
    if principal.is_platform:
        return requested
    if principal.tenant_id is None:
        raise forbidden("The access token belongs to no tenant.")
    if requested is not None and requested != principal.tenant_id:
        raise forbidden("Records of another tenant are not visible to this caller.")
    return str(principal.tenant_id)


def time_range(start: datetime | None, end: datetime | None) -> None:
    for name, value in (("from", start), ("to", end)):
        if value is not None and value.tzinfo is None:
            raise ProblemError(
                400, "INVALID_TIME_RANGE", f"`{name}` needs a UTC offset, e.g. 2026-01-31T00:00Z."
            )
    if start is not None and end is not None and start >= end:
        raise ProblemError(400, "INVALID_TIME_RANGE", "`from` must be before `to`.")


def page_size(ctx: AuditContext, limit: int) -> int:
    if limit > ctx.settings.max_page_size:
        raise ProblemError(
            400, "INVALID_LIMIT", f"`limit` may be at most {ctx.settings.max_page_size}."
        )
    return limit


class Page(BaseModel):
    items: list[dict[str, Any]]
    next_cursor: str | None


async def _page(ctx: AuditContext, f: queries.Filters, cursor: str | None, limit: int) -> Page:
    after = queries.decode_cursor(cursor)
    async with ctx.transaction() as session:
        items, next_cursor = await queries.page(
            session, ctx.wrapper, f, after=after, limit=page_size(ctx, limit)
        )
    return Page(items=items, next_cursor=next_cursor)


@router.get("/events", response_model=Page)
async def list_events(
    ctx: Ctx,
    principal: Reader,
    kind: Literal["hmrc_exchange", "submission_state", "privileged_action"] | None = None,
    vrn: Vrn = None,
    period_key: PeriodKey = None,
    submission_id: Text = None,
    trace_id: Text = None,
    action: Text = None,
    start: From = None,
    end: To = None,
    tenant_id: Text = None,
    cursor: Cursor = None,
    limit: Annotated[int, Query(ge=1)] = 100,
) -> Page:
    """Every kind of audit record, oldest first; filters combine with AND."""
    time_range(start, end)
    f = queries.Filters(
        tenant_id=tenant_scope(principal, tenant_id),
        kind=kind,
        vrn=vrn,
        period_key=period_key,
        submission_id=submission_id,
        trace_id=trace_id,
        action=action,
        occurred_from=start,
        occurred_to=end,
    )
    return await _page(ctx, f, cursor, limit)


@router.get("/hmrc-exchanges", response_model=Page)
async def list_hmrc_exchanges(
    ctx: Ctx,
    principal: Reader,
    vrn: Vrn = None,
    period_key: PeriodKey = None,
    submission_id: Text = None,
    trace_id: Text = None,
    correlation_id: Text = None,
    start: From = None,
    end: To = None,
    tenant_id: Text = None,
    cursor: Cursor = None,
    limit: Annotated[int, Query(ge=1)] = 100,
) -> Page:
    """HMRC exchanges with their fraud prevention headers and validation results."""
    time_range(start, end)
    f = queries.Filters(
        tenant_id=tenant_scope(principal, tenant_id),
        kind="hmrc_exchange",
        vrn=vrn,
        period_key=period_key,
        submission_id=submission_id,
        trace_id=trace_id,
        correlation_id=correlation_id,
        occurred_from=start,
        occurred_to=end,
    )
    return await _page(ctx, f, cursor, limit)


@router.get("/evidence", response_class=StreamingResponse)
async def hmrc_evidence(
    ctx: Ctx,
    principal: Reader,
    first: Annotated[date, Query(alias="from", description="first day (UTC), inclusive")],
    last: Annotated[date, Query(alias="to", description="last day (UTC), inclusive")],
    vrn: Vrn = None,
    tenant_id: Text = None,
) -> StreamingResponse:
    """JSON Lines: a summary line, then one line per HMRC exchange."""
    if first > last:
        raise ProblemError(400, "INVALID_TIME_RANGE", "`from` must not be after `to`.")
    if last - first > timedelta(days=MAX_EVIDENCE_DAYS):
        raise ProblemError(
            400, "RANGE_TOO_LARGE", f"Ask for at most {MAX_EVIDENCE_DAYS} days at a time."
        )
    tenant = tenant_scope(principal, tenant_id)
    name = f"hmrc-evidence-{vrn or 'all'}-{first.isoformat()}-{last.isoformat()}.jsonl"
    return StreamingResponse(
        evidence.lines(ctx, tenant, vrn, first, last),
        media_type="application/jsonl",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


class BrokenLinkOut(BaseModel):
    seq: int
    record_id: str | None
    reason: str
    detail: str


class VerifyOut(BaseModel):
    ok: bool
    records_checked: int
    head_seq: int
    head_hash: str | None
    first_broken: BrokenLinkOut | None


@router.get("/verify", response_model=VerifyOut)
async def verify_chain(ctx: Ctx, _: Reader) -> VerifyOut:
    """Recompute the whole chain; name the first broken link if there is one."""
    async with ctx.transaction() as session:
        result = await chain.verify(session, chunk=ctx.settings.verify_chunk)
    broken = result.first_broken
    return VerifyOut(
        ok=result.ok,
        records_checked=result.records_checked,
        head_seq=result.head_seq,
        head_hash=result.head_hash,
        first_broken=BrokenLinkOut(**broken.__dict__) if broken else None,
    )


class ErasureIn(BaseModel):
    data_subject: str = Field(min_length=1, max_length=200, examples=["user:5f0c…"])
    tenant_id: str | None = Field(default=None, description="platform admins only")


class ErasureOut(BaseModel):
    tenant_id: str | None
    keys_destroyed: int
    records_made_unreadable: int
    erased_at: datetime
    record_id: str


@router.post("/erasures", response_model=ErasureOut)
async def erase_subject(ctx: Ctx, principal: Eraser, body: ErasureIn) -> ErasureOut:
    """Make one person's personal data in the log unreadable; the chain stays verifiable."""
    tenant = tenant_scope(principal, body.tenant_id)
    if tenant is None and principal.is_platform and body.tenant_id is None:
        raise ProblemError(400, "TENANT_REQUIRED", "Name the tenant whose data subject it is.")
    done = await erasure.erase(ctx, tenant, body.data_subject, principal)
    return ErasureOut(**done.__dict__)
