"""HMRC's published specifications, read from `contracts/hmrc/` (see its SOURCES.md).

The simulator takes error bodies, scenario names, OAuth messages and fraud prevention header
rules from these files rather than restating them, so the conformance suite and the
simulator answer to the same source.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

CONTRACTS_DIR = Path(__file__).resolve().parents[2] / "contracts" / "hmrc"

ERROR_CATALOGUE = "vat-api/derived/error-catalogue.json"
SANDBOX_SCENARIOS = "vat-api/derived/sandbox-scenarios.json"
OAUTH_AND_PLATFORM = "platform/oauth-and-platform.json"
FRAUD_PREVENTION = "fraud-prevention/fph-headers-v3.3.json"
TEST_USER_ORGANISATION_REQUEST = (
    "api-platform-test-user/conf/1.0/schemas/create-organisation-request.json"
)


@cache
def load(relative: str) -> Any:
    """One contract file as parsed JSON (cached; the files never change at run time)."""
    with (CONTRACTS_DIR / relative).open(encoding="utf-8") as handle:
        return json.load(handle)
