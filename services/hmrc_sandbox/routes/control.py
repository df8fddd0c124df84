"""The control API (only when HMRC_SANDBOX_CONTROL_ENABLED): faults, clock, seed, rate
limit, applications, reset, and the counters tests read. Not HMRC's: errors are problem+json."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request

from services.common import hmrc_errors
from services.common.errors import ProblemError
from services.hmrc_sandbox.control import (
    CalendarChange,
    ClockChange,
    LagChange,
    NewApplication,
    OutageFor,
    RateLimitChange,
    SeedChange,
)
from services.hmrc_sandbox.faults import ANY_ENDPOINT, ENDPOINTS, EndpointFault, Outage
from services.hmrc_sandbox.records import Application, digest
from services.hmrc_sandbox.sandbox import Sandbox


def sandbox_if_enabled(request: Request) -> Sandbox:
    sandbox: Sandbox = request.app.state.sandbox
    if not sandbox.settings.control_enabled:
        raise ProblemError(404, "NOT_FOUND", "The control API is not enabled")
    return sandbox


router = APIRouter(prefix="/control", tags=["Simulator control"])
Control = Depends(sandbox_if_enabled)


@router.get("/state", summary="Configuration and counters")
async def state(sandbox: Sandbox = Control) -> dict[str, Any]:
    return {
        "config": {**sandbox.control_document(), "clock": sandbox.clock.describe()},
        "counters": sandbox.counters.snapshot(sandbox.rate_limiter.peak),
        "stored": {
            "applications": len(sandbox.state.applications),
            "test_users": len(sandbox.state.users),
            "returns": len(sandbox.state.returns),
        },
    }


@router.get("/counters", summary="Counters: requests, 429s, returns stored, duplicates, peaks")
async def counters(sandbox: Sandbox = Control) -> dict[str, Any]:
    return sandbox.counters.snapshot(sandbox.rate_limiter.peak)


@router.get("/counters/timeline", summary="Requests per wall-clock second, by application")
async def timeline(sandbox: Sandbox = Control) -> dict[str, Any]:
    return sandbox.counters.timeline_snapshot()


@router.post("/counters/reset", summary="Zero the counters only")
async def reset_counters(sandbox: Sandbox = Control) -> dict[str, str]:
    sandbox.counters.reset()
    sandbox.rate_limiter.reset()
    return {"status": "counters reset"}


@router.post("/reset", summary="Forget all state, faults and counters")
async def reset(sandbox: Sandbox = Control) -> dict[str, str]:
    await sandbox.reset()
    return {"status": "reset"}


@router.put("/clock", summary="Freeze, unfreeze or advance the simulated clock")
async def clock(change: ClockChange, sandbox: Sandbox = Control) -> dict[str, Any]:
    before = (sandbox.clock.fixed, sandbox.clock.offset)
    if change.fixed is not None:
        if change.fixed.tzinfo is None:
            raise ProblemError(422, "INVALID_REQUEST", "fixed needs a UTC offset")
        sandbox.clock.set(change.fixed)
    elif change.unfreeze:
        sandbox.clock.set(None)
    try:
        sandbox.clock.advance(timedelta(seconds=change.advance_seconds))
        described = sandbox.clock.describe()
    except OverflowError:
        # A clock outside years 1-9999 would fail every later request: keep the old one.
        sandbox.clock.set(*before)
        raise ProblemError(
            422, "CLOCK_OUT_OF_RANGE", "The clock would leave the years 1 to 9999"
        ) from None
    await sandbox.save_control()
    return described


@router.put("/seed", summary="Seed every generated identifier (null: OS entropy)")
async def seed(change: SeedChange, sandbox: Sandbox = Control) -> dict[str, Any]:
    sandbox.ids.reseed(change.seed)
    await sandbox.save_control()
    return {"seed": change.seed}


@router.put("/rate-limit", summary="Requests per second allowed per application")
async def rate_limit(change: RateLimitChange, sandbox: Sandbox = Control) -> dict[str, Any]:
    if change.client_id is None:
        sandbox.default_rate = change.requests_per_second
        sandbox.throttle_retry_after = change.retry_after_seconds
        await sandbox.save_control()
    else:
        app = sandbox.state.applications.get(change.client_id)
        if app is None:
            raise ProblemError(404, "NOT_FOUND", "No such application")
        app.rate_limit = change.requests_per_second
        await sandbox.store.put(app)
    return change.model_dump()


@router.put("/fulfilment-lag", summary="Delay before a stored return fulfils its obligation")
async def fulfilment_lag(change: LagChange, sandbox: Sandbox = Control) -> dict[str, Any]:
    sandbox.fulfilment_lag = timedelta(seconds=change.seconds)
    await sandbox.save_control()
    return change.model_dump()


def _endpoint(name: str) -> str:
    if name != ANY_ENDPOINT and name not in ENDPOINTS:
        raise ProblemError(
            404, "NOT_FOUND", f"Unknown endpoint; one of {', '.join((ANY_ENDPOINT, *ENDPOINTS))}"
        )
    return name


@router.put("/faults/{endpoint}", summary="Latency, error rate/status, accepted-then-lost")
async def set_fault(
    endpoint: str, fault: EndpointFault, sandbox: Sandbox = Control
) -> dict[str, Any]:
    if fault.downstream is not None:
        known = hmrc_errors.DOWNSTREAM.get(endpoint, {})
        if fault.downstream not in known:
            raise ProblemError(
                422, "INVALID_REQUEST", f"downstream must be one of: {', '.join(sorted(known))}"
            )
    sandbox.faults.endpoints[_endpoint(endpoint)] = fault
    await sandbox.save_control()
    return fault.model_dump()


@router.delete("/faults/{endpoint}", summary="Clear one endpoint's faults")
async def clear_fault(endpoint: str, sandbox: Sandbox = Control) -> dict[str, str]:
    sandbox.faults.endpoints.pop(_endpoint(endpoint), None)
    await sandbox.save_control()
    return {"status": "cleared"}


@router.delete("/faults", summary="Clear every fault and the outage")
async def clear_faults(sandbox: Sandbox = Control) -> dict[str, str]:
    sandbox.faults.clear()
    await sandbox.save_control()
    return {"status": "cleared"}


@router.put("/outage", summary="Every HMRC endpoint fails for a window (wall-clock time)")
async def outage(window: OutageFor, sandbox: Sandbox = Control) -> dict[str, Any]:
    if window.seconds is not None:
        start = datetime.now(UTC)
        end = start + timedelta(seconds=window.seconds)
    elif window.start is not None and window.end is not None:
        start, end = window.start, window.end
    else:
        raise ProblemError(422, "INVALID_REQUEST", "Give seconds, or start and end")
    try:
        sandbox.faults.outage = Outage(start=start, end=end, status=window.status)
    except ValueError as exc:
        raise ProblemError(422, "INVALID_REQUEST", str(exc)) from None
    await sandbox.save_control()
    return sandbox.faults.outage.model_dump(mode="json")


@router.delete("/outage", summary="End the outage now")
async def end_outage(sandbox: Sandbox = Control) -> dict[str, str]:
    sandbox.faults.outage = None
    await sandbox.save_control()
    return {"status": "cleared"}


@router.post("/applications", status_code=201, summary="Register another application")
async def register(new: NewApplication, sandbox: Sandbox = Control) -> dict[str, Any]:
    client_id = new.client_id or sandbox.ids.alnum(28)
    secret = new.client_secret or sandbox.ids.alnum(36)
    if client_id in sandbox.state.applications:
        raise ProblemError(409, "CONFLICT", "An application with this client_id exists")
    app = Application(
        client_id=client_id,
        secret_digests=[digest(secret)],
        name=new.name,
        redirect_uris=new.redirect_uris,
        rate_limit=new.requests_per_second,
    )
    await sandbox.store.put(app)
    sandbox.state.add(app)
    return {"client_id": client_id, "client_secret": secret, "name": new.name}


@router.put("/vrns/{vrn}/calendar", summary="A VRN's obligation calendar (stagger, start)")
async def calendar(vrn: str, change: CalendarChange, sandbox: Sandbox = Control) -> dict[str, Any]:
    user = sandbox.state.users_by_vrn.get(vrn)
    if user is None:
        raise ProblemError(404, "NOT_FOUND", "No test user has this VRN")
    if change.stagger is not None:
        user.stagger = change.stagger
    if change.calendar_start is not None:
        user.calendar_start = change.calendar_start
    await sandbox.store.put(user)
    return {"vrn": vrn, "stagger": user.stagger, "calendar_start": user.calendar_start.isoformat()}
