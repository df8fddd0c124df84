"""Messaging metrics shared by every service: outbox backlog and consumer throughput/lag."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

OUTBOX_BACKLOG = Gauge(
    "outbox_backlog_events",
    "Events written to the outbox and not yet published to NATS.",
    ["service"],
)
OUTBOX_OLDEST_AGE = Gauge(
    "outbox_oldest_event_age_seconds",
    "Age of the oldest unpublished outbox event (0 when none).",
    ["service"],
)
OUTBOX_PUBLISHED = Counter(
    "outbox_published_events",
    "Outbox events published to NATS (re-publishes after a crash included).",
    ["service"],
)
CONSUMED = Counter(
    "messaging_consumed_messages",
    "Messages a durable consumer finished with, by outcome "
    "(processed, duplicate, retried, dead_lettered).",
    ["consumer", "outcome"],
)
CONSUMER_PENDING = Gauge(
    "messaging_consumer_pending_messages",
    "Messages in the stream not yet acknowledged by the consumer (its lag).",
    ["consumer"],
)
