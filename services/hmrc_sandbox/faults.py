"""Faults the control API can inject: latency, errors, an outage window, and "accepted but
the caller never heard" (the return is stored, the answer is a 500 or a time-out)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.hmrc_sandbox.clock import Ids

# Endpoint names used by faults and counters.
ENDPOINTS = (
    "obligations",
    "submit_return",
    "view_return",
    "liabilities",
    "payments",
    "oauth_authorize",
    "oauth_token",
    "create_test_user",
    "fraud_headers_validate",
    "fraud_headers_feedback",
)
ANY_ENDPOINT = "*"


class EndpointFault(BaseModel):
    model_config = ConfigDict(extra="forbid")

    latency_ms: float = Field(default=0, ge=0, le=120_000)
    jitter_ms: float = Field(default=0, ge=0, le=120_000)
    error_rate: float = Field(default=0, ge=0, le=1)
    error_status: int = Field(default=503, ge=400, le=599)
    # After the work is done (a return stored): answer 500, or hold then 504, instead.
    after_accept: Literal["error", "timeout"] | None = None
    after_accept_rate: float = Field(default=1, ge=0, le=1)
    timeout_seconds: float = Field(default=30, ge=0, le=600)
    # Make the downstream stub answer this DES code (its catalogue error) after validation.
    downstream: str | None = None
    # How many requests an error or after-accept fault may hit; None: until cleared.
    remaining: int | None = Field(default=None, ge=0)


class Outage(BaseModel):
    """Every HMRC endpoint answers `status` between `start` and `end` (wall-clock UTC)."""

    model_config = ConfigDict(extra="forbid")

    start: datetime
    end: datetime
    status: int = Field(default=503, ge=500, le=599)

    @model_validator(mode="after")
    def _ordered(self) -> Outage:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("start and end need a UTC offset")
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class Faults:
    def __init__(self, ids: Ids) -> None:
        self.ids = ids
        self.endpoints: dict[str, EndpointFault] = {}
        self.outage: Outage | None = None

    def clear(self) -> None:
        self.endpoints.clear()
        self.outage = None

    def for_endpoint(self, endpoint: str) -> EndpointFault | None:
        return self.endpoints.get(endpoint) or self.endpoints.get(ANY_ENDPOINT)

    def outage_status(self, now: datetime) -> int | None:
        outage = self.outage
        if outage is not None and outage.start <= now < outage.end:
            return outage.status
        return None

    async def delay(self, fault: EndpointFault) -> None:
        if fault.latency_ms or fault.jitter_ms:
            jitter = fault.jitter_ms
            spread = self.ids.uniform(-jitter, jitter) if jitter else 0.0
            await asyncio.sleep(max(0.0, fault.latency_ms + spread) / 1000)

    def _fires(self, fault: EndpointFault, rate: float) -> bool:
        if fault.remaining is not None and fault.remaining <= 0:
            return False
        if not self.ids.chance(rate):
            return False
        if fault.remaining is not None:
            fault.remaining -= 1
        return True

    def injected_error(self, fault: EndpointFault) -> int | None:
        return fault.error_status if self._fires(fault, fault.error_rate) else None

    def downstream(self, fault: EndpointFault | None) -> str | None:
        if fault is None or fault.downstream is None:
            return None
        return fault.downstream if self._fires(fault, 1.0) else None

    def after_accept(self, fault: EndpointFault) -> Literal["error", "timeout"] | None:
        if fault.after_accept is None:
            return None
        return fault.after_accept if self._fires(fault, fault.after_accept_rate) else None
