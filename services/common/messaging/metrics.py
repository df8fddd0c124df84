"""Messaging metrics shared by every service: outbox backlog, consumer throughput/lag, and
the size of the JetStream streams a consumer reads (its own and the dead-letter stream)."""

from __future__ import annotations

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
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
STREAM_MESSAGES = Gauge(
    "nats_stream_messages",
    "Messages held in a JetStream stream (stream info state.messages).",
    ["stream"],
)


async def sample_streams(js: JetStreamContext, *names: str) -> None:
    """Set `nats_stream_messages` for each stream from the broker's stream info."""
    for name in dict.fromkeys(names):
        try:
            info = await js.stream_info(name)
        except NotFoundError:  # not declared (yet) on this broker: nothing to report
            continue
        STREAM_MESSAGES.labels(name).set(info.state.messages)
