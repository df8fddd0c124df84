"""Tracing: one tracer provider per process, OTLP export when configured, W3C propagation.

NATS messages and outbox rows carry trace context as a plain string mapping; `inject` and
`extract` move it in and out so a consumer's span is a child of the producer's.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping

from opentelemetry import propagate, trace
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.context import Context
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

_provider: TracerProvider | None = None


def setup_tracing(
    service: str, otlp_endpoint: str | None = None, *extra: SpanProcessor
) -> TracerProvider:
    """Install the process's tracer provider once; later calls only add span processors."""
    global _provider
    if _provider is None:
        propagate.set_global_textmap(
            CompositePropagator([TraceContextTextMapPropagator(), W3CBaggagePropagator()])
        )
        _provider = TracerProvider(resource=Resource.create({"service.name": service}))
        if otlp_endpoint:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporter = OTLPSpanExporter(endpoint=f"{otlp_endpoint.rstrip('/')}/v1/traces")
            _provider.add_span_processor(BatchSpanProcessor(exporter))
        trace.set_tracer_provider(_provider)
    for processor in extra:
        _provider.add_span_processor(processor)
    return _provider


def inject(carrier: MutableMapping[str, str] | None = None) -> dict[str, str]:
    """Current trace context (traceparent, tracestate, baggage) as headers."""
    headers: dict[str, str] = dict(carrier or {})
    propagate.inject(headers)
    return headers


def extract(headers: Mapping[str, str] | None) -> Context:
    return propagate.extract(dict(headers or {}))


def get_tracer(name: str) -> trace.Tracer:
    return trace.get_tracer(name)
