"""The control API's requests: what tests, load tests and drills may change."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.hmrc_sandbox.records import Stagger


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ClockChange(_Strict):
    """Freeze the clock at `fixed` (or unfreeze with null) and/or move it forward."""

    fixed: datetime | None = None
    unfreeze: bool = False
    advance_seconds: float = 0


class SeedChange(_Strict):
    seed: int | None


class RateLimitChange(_Strict):
    requests_per_second: float = Field(gt=0)
    client_id: str | None = None  # one application; None: the default for all
    # Send `Retry-After` with 429 MESSAGE_THROTTLED_OUT (HMRC documents none; default off).
    retry_after_seconds: int | None = Field(default=None, ge=1, le=3600)


class LagChange(_Strict):
    # At most a year: later arithmetic on dates must stay within datetime's range.
    seconds: float = Field(ge=0, le=366 * 86400)


class OutageFor(_Strict):
    """An outage from now for `seconds` (or an explicit window: see faults.Outage)."""

    seconds: float | None = Field(default=None, gt=0, le=366 * 86400)
    start: datetime | None = None
    end: datetime | None = None
    status: int = Field(default=503, ge=500, le=599)


class NewApplication(_Strict):
    name: str = "test application"
    client_id: str | None = None
    client_secret: str | None = None
    redirect_uris: list[str] = Field(default_factory=list)
    requests_per_second: float | None = Field(default=None, gt=0)

    @field_validator("name", "client_id", "client_secret", "redirect_uris")
    @classmethod
    def _storable(cls, value: str | list[str] | None) -> str | list[str] | None:
        # Applications are kept in PostgreSQL (JSONB), which cannot hold U+0000.
        texts = [value] if isinstance(value, str) else value or []
        if any("\x00" in text for text in texts):
            raise ValueError("must not contain U+0000")
        return value


class CalendarChange(_Strict):
    stagger: Stagger | None = None
    calendar_start: date | None = None
