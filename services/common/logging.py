"""Structured JSON logging: one line per event, with request, trace and span ids, secrets masked.

Standard-library loggers (uvicorn, sqlalchemy, nats) are routed through the same
processors, so every line a service prints has the same shape.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog
from opentelemetry import baggage, trace

from services.common.masking import mask
from services.common.telemetry import SYNTHETIC

Event = MutableMapping[str, Any]


def add_trace_ids(_: Any, __: str, event: Event) -> Event:
    ctx = trace.get_current_span().get_span_context()
    if ctx.is_valid:
        event["trace_id"] = format(ctx.trace_id, "032x")
        event["span_id"] = format(ctx.span_id, "016x")
    # The canary's traffic (baggage synthetic_request=true), so it can be filtered out.
    if str(baggage.get_baggage(SYNTHETIC) or "").lower() == "true":
        event["synthetic"] = True
    return event


def mask_secrets(_: Any, __: str, event: Event) -> Event:
    event.pop("color_message", None)  # uvicorn's ANSI-coloured duplicate of the message
    for key, value in list(event.items()):
        event[key] = mask(value, key)
    return event


def configure_logging(service: str, level: str = "INFO") -> None:
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        add_trace_ids,
        structlog.processors.format_exc_info,
        mask_secrets,
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.ExtraAdder(), *shared],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            _add_service(service),
            structlog.processors.JSONRenderer(),
        ],
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # Access lines duplicate the RED metrics and our own request log; keep them quiet.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)


def _add_service(service: str) -> Any:
    def processor(_: Any, __: str, event: Event) -> Event:
        event.setdefault("service", service)
        return event

    return processor


def get_logger(name: str) -> Any:
    return structlog.stdlib.get_logger(name)
