"""The load profiles and the returns they send.

A profile is a sequence of arrival-rate phases (k6 scenarios run one after another) plus the
shape of the data: how many tenants and VRNs, how many returns are invalid. The returns are
prepared here, once, so the k6 run and the direct-to-HMRC comparison send the same work at
the same times.
"""

from __future__ import annotations

import math
import random
import uuid
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from loadtests.provision import Obligation

CONNECTION_METHODS = ("WEB_APP_VIA_SERVER", "DESKTOP_APP_DIRECT", "BATCH_PROCESS_DIRECT")
# Kinds of invalid return, each with the answer the API must give (see k6/deadline.js).
INVALID_KINDS = ("bad_arithmetic", "period_not_open", "duplicate")


@dataclass(frozen=True)
class Phase:
    """Arrivals ramp linearly from `start` to `end` returns/s over `seconds`."""

    name: str
    start: float
    end: float
    seconds: int

    @property
    def arrivals(self) -> float:
        return (self.start + self.end) / 2 * self.seconds


@dataclass
class Profile:
    name: str
    scenario: str  # the k6 scenario: smoke, baseline, deadline (a baseline, then the spike), soak
    phases: list[Phase]
    tenants: int
    vrns_per_tenant: int
    invalid_share: float = 0.1
    hmrc_rate: float = 3.0
    p95_ms: float = 200.0
    p99_ms: float = 500.0
    max_vus: int = 200
    drain_timeout: float = 600.0
    seed: int = 20261128
    thresholds_extra: dict[str, list[str]] = field(default_factory=dict)

    @property
    def arrivals(self) -> int:
        return sum(math.floor(p.arrivals) for p in self.phases)

    @property
    def seconds(self) -> int:
        return sum(p.seconds for p in self.phases)


def profile(
    name: str,
    *,
    spike_rate: float = 50.0,
    spike_seconds: int = 120,
    soak_rate: float = 2.0,
    soak_seconds: int = 600,
    hmrc_rate: float = 3.0,
) -> Profile:
    if name == "smoke":
        return Profile(
            name,
            "deadline",
            [
                Phase("baseline", 2, 2, 5),
                Phase("ramp-up", 2, 6, 2),
                Phase("spike", 6, 6, 5),
                Phase("ramp-down", 6, 1, 2),
            ],
            tenants=3,
            vrns_per_tenant=2,
            hmrc_rate=hmrc_rate,
            p95_ms=1000,
            p99_ms=2000,
            max_vus=30,
            drain_timeout=120,
        )
    if name == "baseline":
        # An ordinary day: steady arrivals under HMRC's limit.
        return Profile(
            name,
            "baseline",
            [Phase("baseline", 2, 2, 60)],
            tenants=3,
            vrns_per_tenant=3,
            hmrc_rate=hmrc_rate,
            max_vus=30,
        )
    if name == "deadline":
        # A quiet morning, then the last hours before the deadline compressed into a spike.
        returns = spike_rate * spike_seconds
        vrns = max(6, math.ceil(returns / 24))
        tenants = max(3, vrns // 25)
        return Profile(
            name,
            "deadline",
            [
                Phase("baseline", 2, 2, 15),
                Phase("ramp-up", 2, spike_rate, 10),
                Phase("spike", spike_rate, spike_rate, spike_seconds),
                Phase("ramp-down", spike_rate, 2, 10),
            ],
            tenants=tenants,
            vrns_per_tenant=math.ceil(vrns / tenants),
            hmrc_rate=hmrc_rate,
            max_vus=400,
            drain_timeout=max(600.0, 1.5 * returns / hmrc_rate),
        )
    if name == "soak":
        returns = soak_rate * soak_seconds
        vrns = max(6, math.ceil(returns / 24))
        tenants = max(3, vrns // 25)
        return Profile(
            name,
            "soak",
            [Phase("soak", soak_rate, soak_rate, soak_seconds)],
            tenants=tenants,
            vrns_per_tenant=math.ceil(vrns / tenants),
            hmrc_rate=hmrc_rate,
            max_vus=50,
            drain_timeout=600,
        )
    raise ValueError(f"unknown profile {name!r}")


def k6_scenarios(p: Profile) -> dict[str, Any]:
    """The profile as one k6 ramping-arrival-rate scenario: one scenario, so its iteration
    numbers run 0..N-1 and the returns sent are exactly the first N prepared."""
    first = p.phases[0]
    peak = max(max(ph.start, ph.end) for ph in p.phases)
    return {
        p.scenario: {
            "executor": "ramping-arrival-rate",
            "startRate": round(first.start),
            "timeUnit": "1s",
            "stages": [{"target": round(ph.end), "duration": f"{ph.seconds}s"} for ph in p.phases],
            # VUs started before the load: starting one mid-spike costs time and drops arrivals.
            "preAllocatedVUs": min(p.max_vus, max(5, math.ceil(peak) * 4)),
            "maxVUs": p.max_vus,
            "gracefulStop": "30s",
        }
    }


def thresholds(p: Profile) -> dict[str, list[str]]:
    submit = "http_req_duration{endpoint:submit}"
    return {
        submit: [f"p(95)<{p.p95_ms:g}", f"p(99)<{p.p99_ms:g}"],
        "http_req_failed{endpoint:submit}": ["rate<0.01"],
        "checks": ["rate>0.99"],
        "dropped_iterations": ["count<1"],
        "returns_unexpected": ["count<1"],
        **p.thresholds_extra,
    }


# -- returns --------------------------------------------------------------------------------
def money(rng: random.Random, low: int, high: int) -> Decimal:
    return Decimal(rng.randint(low * 100, high * 100)) / 100


def return_body(period_key: str, rng: random.Random, *, consistent: bool = True) -> str:
    """HMRC's nine boxes with figures that add up (or, for an invalid return, do not)."""
    sales, acquisitions = money(rng, 100, 20_000), money(rng, 0, 500)
    total = sales + acquisitions
    reclaimed = money(rng, 0, 5_000)
    if not consistent:
        total += Decimal("1.00")
    net = abs(total - reclaimed)
    boxes = (
        f'"vatDueSales":{sales},"vatDueAcquisitions":{acquisitions},"totalVatDue":{total},'
        f'"vatReclaimedCurrPeriod":{reclaimed},"netVatDue":{net},'
        f'"totalValueSalesExVAT":{rng.randint(500, 100_000)},'
        f'"totalValuePurchasesExVAT":{rng.randint(0, 50_000)},'
        f'"totalValueGoodsSuppliedExVAT":0,"totalAcquisitionsExVAT":0'
    )
    return f'{{"periodKey":"{period_key}",{boxes},"finalised":true}}'


@dataclass(frozen=True)
class Item:
    """One POST: which tenant sends which return for which VRN, and what it must get back."""

    tenant: int
    vrn: str
    period_key: str
    due: date | None
    kind: str
    method: str
    body: str
    key: str
    user: str
    device: str

    def as_k6(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "vrn": self.vrn,
            "pk": self.period_key,
            "kind": self.kind,
            "method": self.method,
            "body": self.body,
            "key": self.key,
            "user": self.user,
            "device": self.device,
            "licence": f"LICENCE-{self.tenant:04d}",
            "octet": 10 + self.tenant % 200,
        }


def calendars(count: int, open_each: int, today: date) -> list[tuple[str, date]]:
    """A stagger and a first period per VRN so that each has at least `open_each` open
    obligations and their due dates fall in different months (every third VRN files
    quarterly)."""
    this_month = today.replace(day=1)
    this_quarter = this_month.replace(month=(this_month.month - 1) // 3 * 3 + 1)
    out = []
    for index in range(count):
        spread = open_each + index % 4  # staggered: not every VRN starts the same month
        if index % 3 == 2:
            out.append(("quarterly", add_months(this_quarter, -3 * (spread - 1))))
        else:
            out.append(("monthly", add_months(this_month, -(spread - 1))))
    return out


def add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def build_items(
    p: Profile,
    obligations: dict[int, list[Obligation]],
    count: int | None = None,
) -> list[Item]:
    """`count` returns (the profile's arrivals by default) in the order they are sent:
    valid returns for open obligations in random order, with invalid ones mixed in.
    Duplicates re-send a period that an earlier valid return (in the first half) used."""
    rng = random.Random(p.seed)  # noqa: S311 - reproducible test data, not secrets
    total = count if count is not None else p.arrivals
    pool = [(tenant, o) for tenant, obs in obligations.items() for o in obs]
    rng.shuffle(pool)
    invalid = round(total * p.invalid_share)
    valid = min(total - invalid, len(pool))
    chosen = pool[:valid]
    items: list[Item] = []
    for n, (tenant, o) in enumerate(chosen):
        items.append(_item(rng, tenant, o.vrn, o.period_key, o.due, "valid", n))
    first_half = items[: max(1, len(items) // 2)]
    for n in range(invalid):
        kind = INVALID_KINDS[n % len(INVALID_KINDS)]
        source = first_half[rng.randrange(len(first_half))]
        period = "99A1" if kind == "period_not_open" else source.period_key
        items.append(_item(rng, source.tenant, source.vrn, period, None, kind, n))
    # Invalid returns land among the valid ones, duplicates only after their original.
    order = items[:valid]
    for extra in items[valid:]:
        if extra.kind == "duplicate":
            original = next(
                i
                for i, it in enumerate(order)
                if it.kind == "valid" and (it.vrn, it.period_key) == (extra.vrn, extra.period_key)
            )
            # Well after the original (about 20 s at the peak rate), so the original has had
            # its 202 by then even when the API is slow.
            gap = max(40, round(20 * max(max(ph.start, ph.end) for ph in p.phases)))
            order.insert(rng.randint(min(original + gap, len(order)), len(order)), extra)
        else:
            order.insert(rng.randint(0, len(order)), extra)
    return order


def _item(
    rng: random.Random,
    tenant: int,
    vrn: str,
    period_key: str,
    due: date | None,
    kind: str,
    n: int,
) -> Item:
    return Item(
        tenant=tenant,
        vrn=vrn,
        period_key=period_key,
        due=due,
        kind=kind,
        method=CONNECTION_METHODS[(int(vrn) + n) % len(CONNECTION_METHODS)],
        body=return_body(period_key, rng, consistent=kind != "bad_arithmetic"),
        key=str(uuid.UUID(int=rng.getrandbits(128))),
        user=f"user{rng.randint(1, 9999)}",
        device=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
    )
