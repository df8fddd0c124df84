"""JSON as HMRC speaks it: amounts are JSON numbers, read as Decimal and written back exactly
(`105.50` stays `105.50`), never through float."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any


def loads(raw: bytes | str) -> Any:
    return json.loads(raw, parse_float=Decimal)


def dumps(value: Any) -> bytes:
    return _render(value).encode()


def _render(value: Any) -> str:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError("amounts must be finite")
        return format(value, "f")
    if isinstance(value, bool) or value is None or isinstance(value, int | str | float):
        return json.dumps(value)
    if isinstance(value, dict):
        items = (f"{json.dumps(str(k))}:{_render(v)}" for k, v in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_render(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as HMRC JSON")


def to_plain(value: Any) -> Any:
    """Decimals as strings, for the platform's own JSON (`jsonutil` does the same)."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_plain(v) for v in value]
    return value
