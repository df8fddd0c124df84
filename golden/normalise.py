"""Make outputs comparable run to run: identifiers, timestamps, tokens and random values
become stable placeholders; everything else (HMRC's bodies, fraud headers, codes) stays.

Three passes, in order: values the run learned (the scenario's VRN, tenant, client secret…)
by name; keys whose values are volatile by nature; then patterns (UUIDs, timestamps, JWTs,
ephemeral ports, digests) inside any remaining string.
"""

from __future__ import annotations

import re
from typing import Any

# Keys whose value changes every run however deterministic the simulator is.
VOLATILE_KEYS = frozenset(
    {
        "access_token",
        "refresh_token",
        "mfa_token",
        "client_secret",
        "secret",
        "otpauth_uri",
        "recovery_codes",
        "password",
        "authorization",
        "formBundleNumber",
        "chargeRefNumber",
        "receipt-id",
        "x-correlationid",
        "correlation_id",
        "correlationId",
        "hash",
        "prev_hash",
        "previous_hash",
        "record_hash",
        "seq",
        "sequence",
        "age",
        "age_seconds",
        "trace_id",
        "span_id",
        "traceparent",
        "tracestate",
        "x-request-id",
        "request_id",
        "duration_ms",
        "latency_ms",
        "elapsed_ms",
        "next_cursor",
        "date",
    }
)
_LOWER_KEYS = frozenset(k.lower() for k in VOLATILE_KEYS)

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"eyJ[\w-]+\.[\w-]+\.[\w-]+"), "<jwt>"),
    (
        re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I),
        "<uuid>",
    ),
    # ISO 8601 date-times, also URL-encoded (fraud headers) and HMRC's +0000 form.
    (
        re.compile(
            r"\d{4}-\d{2}-\d{2}[T ]\d{2}(?::|%3A)\d{2}(?:(?::|%3A)\d{2}(?:\.\d+)?)?"
            r"(?:Z|[+-]\d{2}(?::|%3A)?\d{2})?",
            re.I,
        ),
        "<timestamp>",
    ),
    # The platform's licence id in Gov-Vendor-License-IDs is a digest of the tenant.
    (re.compile(r"(mtd-vat-platform=)[0-9A-F]{64}"), r"\1<tenant-licence-id>"),
    (re.compile(r"\b[0-9a-f]{64}\b"), "<sha256>"),
    (re.compile(r"\b00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}\b"), "<traceparent>"),
    (re.compile(r"((?:127\.0\.0\.1|localhost)(?::|%3A))\d{2,5}"), r"\1<port>"),
]


class Normaliser:
    def __init__(self) -> None:
        self.known: dict[str, str] = {}

    def learn(self, value: object, placeholder: str) -> None:
        """Replace this exact value (a secret, an id) wherever it appears."""
        if isinstance(value, str) and len(value) >= 4:
            self.known.setdefault(value, placeholder)

    def text(self, value: str) -> str:
        for known in sorted(self.known, key=len, reverse=True):
            if known in value:
                value = value.replace(known, self.known[known])
        for pattern, replacement in _PATTERNS:
            value = pattern.sub(replacement, value)
        return value

    def __call__(self, data: Any, key: str | None = None) -> Any:
        if key is not None and key.lower() in _LOWER_KEYS and data not in (None, "", [], {}):
            return self._volatile(key, data)
        if isinstance(data, dict):
            return {k: self(v, k) for k, v in data.items()}
        if isinstance(data, list):
            return [self(v) for v in data]
        if isinstance(data, str):
            return self.text(data)
        return data

    def _volatile(self, key: str, data: Any) -> Any:
        if key.lower() == "authorization" and isinstance(data, str):
            scheme = data.split(" ", 1)[0]
            return f"{scheme} <{key.lower()}>"
        if isinstance(data, list):
            return [f"<{key}>" for _ in data]
        return f"<{key}>"
