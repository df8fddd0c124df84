"""Spans for work that travels through PostgreSQL rather than in a message body.

A queued return is announced on NATS (`submission.queued`) but claimed from PostgreSQL,
so the worker never holds the message's headers. The request that queued it stored its
trace context with the row; `continued_work` resumes that trace as the consumer span the
message would have started, so HMRC calls made for the return join the client's trace.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from opentelemetry import trace
from opentelemetry.trace import SpanKind

from services.common import telemetry


@contextmanager
def continued_work(
    trace_context: Mapping[str, str] | None, subject: str, consumer: str, message_id: str
) -> Iterator[trace.Span]:
    """`with continued_work(row.trace_context, "submission.queued", worker, str(row.id)):`"""
    with telemetry.resumed(
        trace_context,
        f"{subject} process",
        kind=SpanKind.CONSUMER,
        attributes={
            "messaging.system": "nats",
            "messaging.operation.type": "process",
            "messaging.destination.name": subject,
            "messaging.consumer.group.name": consumer,
            "messaging.message.id": message_id,
        },
    ) as span:
        yield span
