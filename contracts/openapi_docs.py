"""Each service's OpenAPI document as generated from its code, and the checked-in copies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from contracts import OPENAPI_DIR
from contracts.apps import FACTORIES, SERVICES


def path_of(service: str) -> Path:
    return OPENAPI_DIR / f"{service}.json"


def generate(service: str) -> dict[str, Any]:
    document: dict[str, Any] = FACTORIES[service]().openapi()
    return document


def render(document: dict[str, Any]) -> str:
    # Stable text: sorted keys and a final newline keep diffs to what really changed.
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def checked_in(service: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path_of(service).read_text())
    return document


def write_all() -> list[Path]:
    OPENAPI_DIR.mkdir(exist_ok=True)
    written = []
    for service in SERVICES:
        path = path_of(service)
        path.write_text(render(generate(service)))
        written.append(path)
    return written


def stale() -> list[str]:
    """Services whose checked-in document differs from what their code generates."""
    return [
        s
        for s in SERVICES
        if not path_of(s).exists() or path_of(s).read_text() != render(generate(s))
    ]
