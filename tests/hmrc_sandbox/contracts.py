"""The reference files the conformance suite is generated from (read here independently of
the simulator's own loader)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2] / "contracts" / "hmrc"


def load(relative: str) -> Any:
    return json.loads((ROOT / relative).read_text(encoding="utf-8"))


CATALOGUE = load("vat-api/derived/error-catalogue.json")
SCENARIOS = load("vat-api/derived/sandbox-scenarios.json")
PLATFORM = load("platform/oauth-and-platform.json")
FPH = load("fraud-prevention/fph-headers-v3.3.json")


def catalogue_entries() -> list[tuple[str, int, dict[str, Any]]]:
    """Every error the catalogue lists, as (section, index, entry)."""
    out = []
    sections = {
        "platform_and_auth": CATALOGUE["platform_and_auth"],
        "obligations": CATALOGUE["obligations"]["errors"],
        "submit_return.single": CATALOGUE["submit_return"]["single_error_bodies"],
        "submit_return.downstream": CATALOGUE["submit_return"]["downstream_errors"],
        "view_return": CATALOGUE["view_return"]["errors"],
        "liabilities_and_payments": CATALOGUE["liabilities_and_payments"]["errors"],
    }
    for section, entries in sections.items():
        for index, entry in enumerate(entries):
            out.append((section, index, entry))
    return out
