"""HMRC's published specifications, read from `contracts/hmrc/` (see its SOURCES.md)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

CONTRACTS_DIR = Path(__file__).resolve().parents[2] / "contracts" / "hmrc"

ERROR_CATALOGUE = "vat-api/derived/error-catalogue.json"
OAUTH_AND_PLATFORM = "platform/oauth-and-platform.json"
FRAUD_PREVENTION = "fraud-prevention/fph-headers-v3.3.json"


@cache
def load(relative: str) -> Any:
    with (CONTRACTS_DIR / relative).open(encoding="utf-8") as handle:
        return json.load(handle)
