"""The obligations service's own metrics (registered in deploy/telemetry/registry.yaml)."""

from __future__ import annotations

from prometheus_client import Counter

CACHE_ANSWERS = Counter(
    "obligations_cache_answers",
    "Reads answered, by kind and how: hit, miss (asked HMRC), stale, unavailable.",
    ["kind", "outcome"],
)
GATEWAY_READS = Counter(
    "obligations_gateway_reads",
    "Reads sent through the HMRC gateway, by kind and outcome: ok, unavailable, refused.",
    ["kind", "outcome"],
)
