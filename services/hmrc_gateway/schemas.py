"""Bodies of the gateway's internal API."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

VRN = r"^\d{9}$"
PERIOD_KEY = r"^[#0-9A-Z]{4}$"


class Connection(BaseModel):
    """How the device's request reached the platform, as the receiving service saw it."""

    model_config = ConfigDict(extra="forbid")

    peer_ip: str | None = None
    peer_port: int | None = Field(default=None, ge=1, le=65535)
    forwarded: str | None = Field(default=None, max_length=4096)
    x_forwarded_for: str | None = Field(default=None, max_length=4096)
    received_at: AwareDatetime | None = None


class VatReturn(BaseModel):
    """The nine boxes as HMRC wants them; amounts are exact decimals."""

    model_config = ConfigDict(extra="forbid")

    periodKey: str = Field(pattern=PERIOD_KEY)
    vatDueSales: Decimal
    vatDueAcquisitions: Decimal
    totalVatDue: Decimal
    vatReclaimedCurrPeriod: Decimal
    netVatDue: Decimal
    totalValueSalesExVAT: Decimal
    totalValuePurchasesExVAT: Decimal
    totalValueGoodsSuppliedExVAT: Decimal
    totalAcquisitionsExVAT: Decimal
    finalised: bool


class SubmitReturn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tenant_id: uuid.UUID
    vat_return: VatReturn = Field(alias="return")
    # Lower first; deadline work is 0-1. Within a class the earlier due date goes first.
    priority_class: int = Field(default=1, ge=0, le=9)
    due_date: date | None = None
    submission_id: str | None = Field(default=None, max_length=100)
    user_id: uuid.UUID | None = None
    device: dict[str, Any] | None = None
    connection: Connection | None = None


class ViewReturn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tenant_id: uuid.UUID
    user_id: uuid.UUID | None = None
    device: dict[str, Any] | None = None
    connection: Connection | None = None


class ValidateHeaders(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tenant_id: uuid.UUID
    vrn: str = Field(pattern=VRN)
    user_id: uuid.UUID | None = None
    device: dict[str, Any] | None = None
    connection: Connection | None = None
    # Sandbox only: also ask HMRC's Test Fraud Prevention Headers API.
    ask_hmrc: bool = False


class SubmitAnswer(BaseModel):
    outcome: Literal["accepted", "rejected", "uncertain"]
    receipt: dict[str, Any] | None = None
    receipt_headers: dict[str, str] | None = None
    correlation_id: str | None = None
