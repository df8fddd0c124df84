"""Tracing: one tracer provider per process, OTLP export when configured, W3C propagation.

NATS messages and outbox rows carry trace context as a plain string mapping; `inject` and
`extract` move it in and out so a consumer's span is a child of the producer's. `resumed`
continues a trace stored with a piece of work (a queued return) when a background task
picks it up. Synthetic traffic carries baggage `synthetic_request=true`; every span started
under it gets the same attribute, so traces of the canary can be told apart.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager

from opentelemetry import baggage, context, propagate, trace
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.context import Context
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import AttributeValue

SYNTHETIC = "synthetic_request"
# The standard variable, for processes whose settings do not name an endpoint themselves.
OTLP_ENDPOINT_ENV = "OTEL_EXPORTER_OTLP_ENDPOINT"

_provider: TracerProvider | None = None


class SyntheticMarker(SpanProcessor):
    """Copies baggage `synthetic_request` onto every span started under it."""

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        value = baggage.get_baggage(SYNTHETIC, parent_context)
        if value is not None:
            span.set_attribute(SYNTHETIC, str(value).lower() == "true")

    def on_end(self, span: ReadableSpan) -> None:
        return None


def setup_tracing(
    service: str, otlp_endpoint: str | None = None, *extra: SpanProcessor
) -> TracerProvider:
    """Install the process's tracer provider once; later calls only add span processors.

    Outbound httpx calls are traced process-wide, so a client built anywhere (not only
    through `http_client.make_client`) sends `traceparent` and baggage onward."""
    global _provider
    if _provider is None:
        propagate.set_global_textmap(
            CompositePropagator([TraceContextTextMapPropagator(), W3CBaggagePropagator()])
        )
        _provider = TracerProvider(resource=Resource.create({"service.name": service}))
        _provider.add_span_processor(SyntheticMarker())
        endpoint = otlp_endpoint or os.environ.get(OTLP_ENDPOINT_ENV)
        if endpoint:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporter = OTLPSpanExporter(endpoint=f"{endpoint.rstrip('/')}/v1/traces")
            _provider.add_span_processor(BatchSpanProcessor(exporter))
        trace.set_tracer_provider(_provider)
        instrument_httpx()
    for processor in extra:
        _provider.add_span_processor(processor)
    return _provider


def instrument_httpx() -> None:
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    instrumentor = HTTPXClientInstrumentor()
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument()


def httpx_traced_globally() -> bool:
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    return bool(HTTPXClientInstrumentor().is_instrumented_by_opentelemetry)


def shutdown() -> None:
    """Export what is buffered (a short-lived process ends before the batch timer fires)."""
    if _provider is not None:
        _provider.force_flush(timeout_millis=5000)
        _provider.shutdown()


def inject(carrier: MutableMapping[str, str] | None = None) -> dict[str, str]:
    """Current trace context (traceparent, tracestate, baggage) as headers."""
    headers: dict[str, str] = dict(carrier or {})
    propagate.inject(headers)
    return headers


def extract(headers: Mapping[str, str] | None) -> Context:
    return propagate.extract(dict(headers or {}))


@contextmanager
def resumed(
    carrier: Mapping[str, str] | None,
    name: str,
    *,
    kind: SpanKind = SpanKind.CONSUMER,
    attributes: Mapping[str, AttributeValue] | None = None,
) -> Iterator[trace.Span]:
    """A span continuing the trace stored in `carrier` (with its baggage), made current."""
    # Attached, not only passed as parent, so the carrier's baggage is current too.
    token = context.attach(extract(carrier))
    try:
        with get_tracer(__name__).start_as_current_span(
            name, kind=kind, attributes=dict(attributes or {})
        ) as span:
            yield span
    finally:
        context.detach(token)


def get_tracer(name: str) -> trace.Tracer:
    return trace.get_tracer(name)
