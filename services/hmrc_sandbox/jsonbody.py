"""JSON as HMRC speaks it: money parsed as Decimal and written back as a JSON number.

`services.common.jsonutil` writes Decimal as a string, which is right for the platform's
own API but not for HMRC's, whose amounts are JSON numbers (``105.5``, ``100.10``).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

_encode_str = json.encoder.encode_basestring


class MalformedJson(ValueError):
    """The bytes are not one JSON document."""


def loads(raw: bytes | str) -> Any:
    try:
        return json.loads(raw, parse_float=Decimal, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise MalformedJson(str(exc)) from exc


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def dumps(value: Any) -> str:
    try:  # the C encoder when there is no Decimal to write
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    except TypeError:
        pass
    parts: list[str] = []
    _write(value, parts)
    return "".join(parts)


def dumpb(value: Any) -> bytes:
    return dumps(value).encode()


def _write(value: Any, out: list[str]) -> None:
    if isinstance(value, str):
        out.append(_encode_str(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, Decimal):
        out.append(_decimal(value))
    elif isinstance(value, dict):
        out.append("{")
        first = True
        for key, item in value.items():
            if not first:
                out.append(",")
            first = False
            out.append(_encode_str(str(key)))
            out.append(":")
            _write(item, out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _write(item, out)
        out.append("]")
    else:
        raise TypeError(f"{type(value).__name__} has no HMRC JSON form")


def _decimal(value: Decimal) -> str:
    if not value.is_finite():
        raise ValueError("a non-finite amount has no JSON form")
    text = str(value)
    # str() may choose exponent form (1E+2); JSON accepts it, but plain digits read better.
    if "E" in text and value == value.to_integral_value() and abs(value) < Decimal(10) ** 20:
        return str(int(value))
    return text.replace("E", "e")
