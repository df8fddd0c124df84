"""Did every return the API accepted reach HMRC exactly once, in due-date order, without
breaking HMRC's rate limit? Answered from the submission database and the simulator's
counters, never from the load generator's own bookkeeping alone."""

from __future__ import annotations

import heapq
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from services.common.database import Database

# Claims race by a moment: a return queued this close to another's claim may not have
# been visible to it yet, so it does not count as overtaken.
ORDER_SLACK_SECONDS = 1.0


@dataclass(frozen=True)
class Sent:
    id: str
    vrn: str
    period_key: str
    due: date
    state: str
    has_receipt: bool
    queued_at: datetime | None
    claimed_at: datetime | None
    final_at: datetime | None


async def load_run(db: Database, tenants: list[str]) -> list[Sent]:
    query = sa.text(
        """
        SELECT s.id, s.vrn, s.period_key, s.due_date, s.state, s.receipt IS NOT NULL,
               min(t.at) FILTER (WHERE t.to_state = 'queued'),
               min(t.at) FILTER (WHERE t.to_state = 'submitting'),
               max(t.at) FILTER (WHERE t.to_state IN ('accepted', 'rejected'))
        FROM submissions s JOIN submission_transitions t ON t.submission_id = s.id
        WHERE s.tenant_id = ANY(:t)
        GROUP BY s.id
        """
    )
    async with db.sessions() as session:
        rows = (await session.execute(query, {"t": tenants})).tuples().all()
    return [Sent(str(r[0]), *r[1:]) for r in rows]


def order_inversions(sent: list[Sent], slack: float = ORDER_SLACK_SECONDS) -> int:
    """Claims that went before a return due earlier which was already waiting in the queue
    (queued more than `slack` before the claim and claimed more than `slack` after it).
    Returns already claimed when an earlier-due one arrived are in flight, not overtaking."""
    events: list[tuple[float, int, int]] = []  # (time, 0 add | 1 remove | 2 check, index)
    for i, s in enumerate(sent):
        if s.queued_at is None or s.claimed_at is None:
            continue
        queued, claimed = s.queued_at.timestamp(), s.claimed_at.timestamp()
        if claimed - queued > 2 * slack:
            events += [(queued + slack, 0, i), (claimed - slack, 1, i)]
        events.append((claimed, 2, i))
    events.sort()
    waiting: list[tuple[date, int]] = []
    gone: set[int] = set()
    inversions = 0
    for _, kind, i in events:
        if kind == 0:
            heapq.heappush(waiting, (sent[i].due, i))
        elif kind == 1:
            gone.add(i)
        else:
            while waiting and waiting[0][1] in gone:
                heapq.heappop(waiting)
            if waiting and waiting[0][0] < sent[i].due:
                inversions += 1
    return inversions


@dataclass
class Reconciliation:
    api_accepted: int  # 202s k6 counted
    in_database: int
    accepted_with_receipt: int
    rejected_by_hmrc: int
    not_final: int
    stored_at_hmrc: int
    stored_more_than_once: int
    missing_at_hmrc: int
    duplicate_attempts: int
    throttled: int
    peak_per_second: int
    limit: float
    order_inversions: int
    # The same count had a return to have waited longer (seconds): timestamps are taken
    # before commit, so on a starved machine a return may show as waiting before it could
    # be seen. How far the count falls as the slack grows tells the two apart.
    order_inversions_by_slack: dict[str, int]
    first_post_at: float | None
    last_receipt_at: float | None
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def drain_seconds(self) -> float | None:
        if self.first_post_at is None or self.last_receipt_at is None:
            return None
        return self.last_receipt_at - self.first_post_at

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok, "drain_seconds": self.drain_seconds}


def reconcile(
    sent: list[Sent],
    counters: dict[str, Any],
    *,
    api_accepted: int,
    platform_client: str,
    limit: float,
    order_slack: float = ORDER_SLACK_SECONDS,
) -> Reconciliation:
    stored = counters.get("returnsStored", {})
    duplicates = counters.get("duplicateSubmissions", {})
    ours = {(s.vrn, s.period_key) for s in sent}
    accepted = [s for s in sent if s.state == "accepted"]
    times = [s.final_at.timestamp() for s in accepted if s.final_at is not None]
    arrivals = [s.queued_at.timestamp() for s in sent if s.queued_at is not None]
    result = Reconciliation(
        api_accepted=api_accepted,
        in_database=len(sent),
        accepted_with_receipt=sum(1 for s in accepted if s.has_receipt),
        rejected_by_hmrc=sum(1 for s in sent if s.state == "rejected"),
        not_final=sum(1 for s in sent if s.state not in ("accepted", "rejected")),
        stored_at_hmrc=sum(1 for vrn, pk in ours if stored.get(vrn, {}).get(pk, 0) >= 1),
        stored_more_than_once=sum(1 for vrn, pk in ours if stored.get(vrn, {}).get(pk, 0) > 1),
        missing_at_hmrc=sum(1 for s in accepted if stored.get(s.vrn, {}).get(s.period_key, 0) < 1),
        duplicate_attempts=sum(duplicates.get(vrn, {}).get(pk, 0) for vrn, pk in ours),
        throttled=int(counters.get("throttled", {}).get(platform_client, 0)),
        peak_per_second=int(counters.get("peakRequestsPerSecond", {}).get(platform_client, 0)),
        limit=limit,
        order_inversions=order_inversions(sent, order_slack),
        order_inversions_by_slack={f"{s:g}": order_inversions(sent, s) for s in (5.0, 30.0)},
        first_post_at=min(arrivals) if arrivals else None,
        last_receipt_at=max(times) if times else None,
    )
    checks = [
        (result.in_database == api_accepted, "the API's 202s and the returns on record differ"),
        (result.accepted_with_receipt == api_accepted, "not every accepted return has a receipt"),
        (result.not_final == 0, "returns still waiting when the drain timed out"),
        (result.stored_more_than_once == 0, "HMRC stored a return twice for a (VRN, period)"),
        (result.missing_at_hmrc == 0, "a return with a receipt is not stored at HMRC"),
        (result.stored_at_hmrc == result.accepted_with_receipt, "HMRC holds other returns"),
        (result.throttled == 0, "HMRC answered 429 to the platform"),
        (result.peak_per_second <= limit, "HMRC saw more requests in a second than the limit"),
        (result.order_inversions == 0, "a return went out before an earlier-due waiting one"),
    ]
    result.failures = [message for passed, message in checks if not passed]
    return result
