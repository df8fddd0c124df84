"""A valid VAT return (HMRC's field names, exact decimals) and its JSON as HMRC expects it."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any


def vat_return(period_key: str = "24A1", **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "periodKey": period_key,
        "vatDueSales": Decimal("100.10"),
        "vatDueAcquisitions": Decimal("0.00"),
        "totalVatDue": Decimal("100.10"),
        "vatReclaimedCurrPeriod": Decimal("40.00"),
        "netVatDue": Decimal("60.10"),
        "totalValueSalesExVAT": Decimal("500"),
        "totalValuePurchasesExVAT": Decimal("200"),
        "totalValueGoodsSuppliedExVAT": Decimal("0"),
        "totalAcquisitionsExVAT": Decimal("0"),
        "finalised": True,
    }
    body.update(
        {
            k: Decimal(v) if isinstance(v, str) and k != "periodKey" else v
            for k, v in changes.items()
        }
    )
    return body


def hmrc_json(body: dict[str, Any]) -> str:
    """JSON text with every Decimal written as a JSON number, digit for digit."""
    marked = {k: f"@@{v}@@" if isinstance(v, Decimal) else v for k, v in body.items()}
    return re.sub(r'"@@(-?[0-9.E+-]+)@@"', r"\1", json.dumps(marked))
