"""The pieces the runner's verdict rests on: the prepared returns, the due-date order check
and the simulator's per-second timeline."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from loadtests.provision import Obligation
from loadtests.reconcile import Sent, order_inversions
from loadtests.workload import INVALID_KINDS, build_items, calendars, k6_scenarios, profile
from services.hmrc_sandbox.counters import TIMELINE_SECONDS, Counters

T0 = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)


def sent(n: int, due: date, queued: float, claimed: float) -> Sent:
    return Sent(
        id=str(n),
        vrn=f"{n:09d}",
        period_key="26A1",
        due=due,
        state="accepted",
        has_receipt=True,
        queued_at=T0 + timedelta(seconds=queued),
        claimed_at=T0 + timedelta(seconds=claimed),
        final_at=T0 + timedelta(seconds=claimed + 1),
    )


def test_a_later_due_return_claimed_while_an_earlier_one_waits_is_an_inversion() -> None:
    early, late = date(2026, 12, 7), date(2027, 1, 7)
    in_order = [sent(1, early, 0, 10), sent(2, late, 0, 11)]
    assert order_inversions(in_order) == 0
    overtaken = [sent(1, early, 0, 13), sent(2, late, 0, 10)]
    assert order_inversions(overtaken) == 1


def test_a_return_already_in_flight_is_not_overtaking() -> None:
    # The late one was claimed before the early one arrived: nothing could have gone first.
    early, late = date(2026, 12, 7), date(2027, 1, 7)
    assert order_inversions([sent(1, late, 0, 5), sent(2, early, 5.2, 6)]) == 0


def test_items_are_valid_returns_for_open_periods_with_invalid_ones_mixed_in() -> None:
    p = profile("smoke")
    due = date(2026, 12, 7)
    obligations = {
        t: [Obligation(f"10000000{t}", f"26A{q}", due) for q in range(1, 7)]
        + [Obligation(f"20000000{t}", f"25A{q}", due) for q in range(1, 7)]
        for t in range(3)
    }
    items = build_items(p, obligations, count=30)
    assert len(items) == 30
    kinds = [i.kind for i in items]
    assert kinds.count("valid") == 27
    assert {k: kinds.count(k) for k in INVALID_KINDS} == dict.fromkeys(INVALID_KINDS, 1)
    valid = [(i.vrn, i.period_key) for i in items if i.kind == "valid"]
    assert len(set(valid)) == len(valid)  # one return per (VRN, period)
    dup = next(n for n, i in enumerate(items) if i.kind == "duplicate")
    original = next(
        n
        for n, i in enumerate(items)
        if i.kind == "valid" and (i.vrn, i.period_key) == (items[dup].vrn, items[dup].period_key)
    )
    assert original < dup
    for item in items:
        body = json.loads(item.body, parse_float=Decimal)
        consistent = body["totalVatDue"] == body["vatDueSales"] + body["vatDueAcquisitions"]
        assert consistent == (item.kind != "bad_arithmetic")
        assert body["netVatDue"] == abs(body["totalVatDue"] - body["vatReclaimedCurrPeriod"])
    assert len({i.key for i in items}) == len(items)  # idempotency keys never repeat


def test_calendars_stagger_due_dates_and_the_scenario_follows_the_phases() -> None:
    cals = calendars(6, 5, date(2026, 11, 28))
    assert {stagger for stagger, _ in cals} == {"monthly", "quarterly"}
    assert len({start for _, start in cals}) > 3
    scenario = k6_scenarios(profile("deadline", spike_rate=40, spike_seconds=60))["deadline"]
    assert scenario["executor"] == "ramping-arrival-rate"
    assert [s["target"] for s in scenario["stages"]] == [2, 40, 40, 2]


def test_simulator_timeline_counts_requests_per_wall_clock_second() -> None:
    now = [1_800_000_000.2]
    counters = Counters(wall_clock=lambda: now[0])
    counters.request("submit_return", "app", 201)
    counters.request("submit_return", "app", 201)
    counters.request("submit_return", "app", 429)
    now[0] += 1
    counters.request("submit_return", "app", 201)
    assert counters.timeline_snapshot() == {
        "app": {
            "submit_return 201": {"1800000000": 2, "1800000001": 1},
            "submit_return 429": {"1800000000": 1},
        }
    }
    # Seconds older than the timeline keeps are dropped as time moves on.
    now[0] += TIMELINE_SECONDS + 60
    counters.request("obligations", "app", 200)
    assert counters.timeline_snapshot() == {"app": {"obligations 200": {str(int(now[0])): 1}}}
    counters.reset()
    assert counters.timeline_snapshot() == {}
