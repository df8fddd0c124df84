"""The tracing helpers in-process: work resumed from a stored trace context is a consumer
span in that trace with `messaging.*` attributes, and baggage `synthetic_request=true`
marks every span started under it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry import baggage, context
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from services.common import telemetry
from services.common.messaging.tracing import continued_work


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    spans = InMemorySpanExporter()
    telemetry.setup_tracing("tests", None, SimpleSpanProcessor(spans))
    yield spans
    spans.clear()


def test_continued_work_is_a_consumer_span_in_the_stored_trace(
    exporter: InMemorySpanExporter,
) -> None:
    tracer = telemetry.get_tracer("tests")
    token = context.attach(baggage.set_baggage(telemetry.SYNTHETIC, "true"))
    try:
        with tracer.start_as_current_span("POST /v1/vat/{vrn}/returns") as request:
            stored = telemetry.inject()
    finally:
        context.detach(token)
    # Later, in a background task with no context of its own:
    with continued_work(stored, "submission.queued", "worker-1", "sub-1") as span:
        inner_baggage = baggage.get_baggage(telemetry.SYNTHETIC)
        with tracer.start_as_current_span("gateway call") as call:
            pass
    assert inner_baggage == "true"
    work = next(s for s in exporter.get_finished_spans() if s.name == "submission.queued process")
    assert work.kind == SpanKind.CONSUMER
    assert work.context.trace_id == request.get_span_context().trace_id
    assert work.parent is not None
    assert work.parent.span_id == request.get_span_context().span_id
    assert work.attributes is not None
    assert work.attributes["messaging.system"] == "nats"
    assert work.attributes["messaging.operation.type"] == "process"
    assert work.attributes["messaging.destination.name"] == "submission.queued"
    assert work.attributes["messaging.consumer.group.name"] == "worker-1"
    assert work.attributes["messaging.message.id"] == "sub-1"
    assert work.attributes[telemetry.SYNTHETIC] is True
    assert span.get_span_context().span_id == work.context.span_id
    # What the worker calls next is under the work span, synthetic too.
    finished_call = next(s for s in exporter.get_finished_spans() if s.name == "gateway call")
    assert finished_call.parent is not None
    assert finished_call.parent.span_id == work.context.span_id
    assert call.get_span_context().trace_id == work.context.trace_id
    assert finished_call.attributes is not None
    assert finished_call.attributes[telemetry.SYNTHETIC] is True


def test_spans_without_synthetic_baggage_carry_no_mark(exporter: InMemorySpanExporter) -> None:
    with continued_work({}, "submission.queued", "worker-1", "sub-2"):
        pass
    (work,) = [s for s in exporter.get_finished_spans() if s.name == "submission.queued process"]
    assert work.attributes is not None
    assert telemetry.SYNTHETIC not in work.attributes
    assert work.parent is None  # nothing stored: a new trace, not a crash
