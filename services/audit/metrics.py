"""The audit service's own Prometheus metrics: ingest rate, delay, chain head.

Consumer lag and duplicate/dead-lettered counts come from the common consumer
(`messaging_consumer_pending_messages`, `messaging_consumed_messages_total`)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

INGESTED = Counter(
    "audit_events_ingested",
    "Audit events appended to the chain, by kind (rate() of it is the ingest rate).",
    ["kind"],
)
BATCH_SECONDS = Histogram(
    "audit_ingest_batch_duration_seconds",
    "Time to append one batch of audit events in PostgreSQL.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
INGEST_DELAY = Histogram(
    "audit_ingest_delay_seconds",
    "From an event reaching the AUDIT stream to its record being committed.",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
CONSUMER_LAG_SECONDS = Gauge(
    "audit_consumer_lag_seconds",
    "Age of the newest event the audit consumer committed, when it was committed.",
)
CHAIN_HEAD = Gauge("audit_chain_head_seq", "Sequence number of the newest chain link.")
