"""Masking of secrets before anything is logged or stored outside its owner.

Keys whose name looks like a secret are replaced wholesale; free text is scanned for
bearer tokens and `key=value` pairs of secret-looking keys.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

MASK = "***"

_SECRET_KEY = re.compile(
    r"(pass(word|wd)?|secret|token|authori[sz]ation|api[-_]?key|cookie|totp|seed|"
    r"private[-_]?key|client[-_]?secret|refresh|code[-_]?verifier|credential)",
    re.IGNORECASE,
)
_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]+")
_KEY_VALUE = re.compile(
    r"(?i)\b([\w-]*(?:password|secret|token|api[-_]?key|totp|seed)[\w-]*)=([^&\s,;\"']+)"
)
_URL_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^:/@\s]+):([^@\s]+)@")


def is_secret_key(key: str) -> bool:
    return bool(_SECRET_KEY.search(key))


def mask_text(text: str) -> str:
    text = _BEARER.sub(lambda m: f"{m.group(1)} {MASK}", text)
    text = _URL_PASSWORD.sub(lambda m: f"{m.group(1)}:{MASK}@", text)
    return _KEY_VALUE.sub(lambda m: f"{m.group(1)}={MASK}", text)


def mask(value: Any, key: str | None = None) -> Any:
    """Return `value` with every secret masked, recursing through mappings and lists."""
    if key is not None and is_secret_key(key) and value not in (None, ""):
        return MASK
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, Mapping):
        return {k: mask(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask(v) for v in value]
    return value
