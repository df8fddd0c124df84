"""One submission end to end, every service a real process exporting spans to the test's
collector: the service-to-service edges are there, with span kinds and `messaging.*`
attributes, all in the client's one trace.

    client → submission → NATS → worker → gateway → HMRC simulator
                                          gateway → NATS → audit
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.observability.collector import Span
from tests.observability.conftest import EndToEnd

Pred = Callable[[Span], bool]


def spans_of(e2e: EndToEnd, ready: Callable[[list[Span]], bool] | None = None) -> list[Span]:
    collector, trace_id = e2e.stack.collector, e2e.run.trace_id
    return collector.wait_for(ready or (lambda spans: bool(spans)), trace_id)


def find(spans: list[Span], what: str, pred: Pred) -> Span:
    found = [s for s in spans if pred(s)]
    assert found, f"no span for {what}; the trace has: " + ", ".join(
        sorted({f"{s.service}:{s.kind}:{s.name}" for s in spans})
    )
    return found[0]


def parent_of(spans: list[Span], span: Span) -> Span | None:
    return next((s for s in spans if s.span_id == span.parent_id), None)


def server(service: str, method: str, route_part: str) -> Pred:
    return lambda s: (
        s.service == service
        and s.kind == "SERVER"
        and s.name.startswith(method)
        and route_part in s.name
    )


def calls_into(spans: list[Span], callee: Span, caller_service: str) -> None:
    """`callee` (a server span) is the child of a client span of `caller_service`."""
    parent = parent_of(spans, callee)
    assert parent is not None, f"{callee.service}:{callee.name} has no parent in the trace"
    assert parent.kind == "CLIENT", parent
    assert parent.service == caller_service, parent


def messaging(span: Span, operation: str) -> None:
    a = span.attributes
    assert a["messaging.system"] == "nats", span
    assert a["messaging.operation.type"] == operation, span
    assert a["messaging.destination.name"], span
    assert a["messaging.message.id"], span


def test_client_to_submission(end_to_end: EndToEnd) -> None:
    spans = spans_of(end_to_end)
    post = find(spans, "POST returns at submission", server("submission", "POST", "/returns"))
    assert post.parent_id == end_to_end.run.client_span_id


def test_submission_publishes_the_queued_return_to_nats(end_to_end: EndToEnd) -> None:
    spans = spans_of(end_to_end)
    post = find(spans, "POST returns at submission", server("submission", "POST", "/returns"))
    publish = find(
        spans,
        "submission.queued publish",
        lambda s: s.kind == "PRODUCER" and s.name == "submission.queued publish",
    )
    assert publish.service == "submission"
    messaging(publish, "publish")
    assert publish.attributes["messaging.destination.name"] == "submission.queued"
    # The relay continues the request's trace: its parent is a span of that request.
    parent = parent_of(spans, publish)
    assert parent is not None and parent.service == "submission"
    assert post.trace_id == publish.trace_id


def test_worker_continues_the_trace_and_calls_the_gateway(end_to_end: EndToEnd) -> None:
    spans = spans_of(end_to_end, lambda s: any(x.service == "hmrc_gateway" for x in s))
    worker = find(
        spans,
        "the worker's consumer span",
        lambda s: s.service == "submission" and s.kind == "CONSUMER",
    )
    messaging(worker, "process")
    gateway_submit = find(spans, "the gateway's submit", server("hmrc_gateway", "POST", "/returns"))
    calls_into(spans, gateway_submit, "submission")
    # The gateway call happens inside the worker's span.
    ancestor: Span | None = gateway_submit
    while ancestor is not None and ancestor.span_id != worker.span_id:
        ancestor = parent_of(spans, ancestor)
    assert ancestor is not None, "the gateway call is not under the worker's span"


def test_gateway_calls_the_hmrc_simulator_to_read(end_to_end: EndToEnd) -> None:
    spans = spans_of(end_to_end, lambda s: any(x.service == "hmrc_sandbox" for x in s))
    read = find(
        spans,
        "GET obligations at the simulator",
        server("hmrc_sandbox", "GET", "/organisations/vat/{vrn}/obligations"),
    )
    calls_into(spans, read, "hmrc_gateway")
    gateway_read = parent_of(spans, parent_of(spans, read) or read)
    assert gateway_read is not None and gateway_read.service == "hmrc_gateway"


def test_gateway_submits_to_the_hmrc_simulator(end_to_end: EndToEnd) -> None:
    def has_hmrc_post(spans: list[Span]) -> bool:
        return any(server("hmrc_sandbox", "POST", "/organisations/vat/")(s) for s in spans)

    spans = spans_of(end_to_end, has_hmrc_post)
    hmrc_post = find(
        spans, "POST returns at the simulator", server("hmrc_sandbox", "POST", "/returns")
    )
    calls_into(spans, hmrc_post, "hmrc_gateway")


def test_gateway_audit_event_travels_over_nats_to_audit(end_to_end: EndToEnd) -> None:
    def has_audit_consumer(spans: list[Span]) -> bool:
        return any(s.service == "audit" and s.kind == "CONSUMER" for s in spans)

    spans = spans_of(end_to_end, has_audit_consumer)
    producers = {
        s.span_id: s
        for s in spans
        if s.service == "hmrc_gateway"
        and s.kind == "PRODUCER"
        and str(s.attributes.get("messaging.destination.name", "")).startswith("audit.")
    }
    assert producers, "the gateway published no audit event in this trace"
    consumer = find(
        spans,
        "audit consuming a gateway event",
        lambda s: s.service == "audit" and s.kind == "CONSUMER" and s.parent_id in producers,
    )
    # Audit appends in batches: each message's delivery is a `receive` span.
    messaging(consumer, "receive")
    messaging(producers[consumer.parent_id], "publish")
    assert consumer.attributes["messaging.consumer.group.name"]
    assert (
        consumer.attributes["messaging.destination.name"]
        == producers[consumer.parent_id].attributes["messaging.destination.name"]
    )


@pytest.mark.parametrize(
    "service", ["auth", "obligations", "submission", "hmrc_gateway", "hmrc_sandbox", "audit"]
)
def test_every_service_took_part_in_the_one_trace(end_to_end: EndToEnd, service: str) -> None:
    spans = spans_of(end_to_end, lambda s: any(x.service == service for x in s))
    assert any(s.service == service for s in spans), service
    assert {s.trace_id for s in spans} == {end_to_end.run.trace_id}
