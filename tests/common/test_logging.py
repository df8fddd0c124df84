"""Log lines are JSON with request, trace and span ids, and never carry a secret."""

from __future__ import annotations

import json
import logging

import pytest
import structlog

from services.common import telemetry
from services.common.logging import configure_logging, get_logger
from services.common.masking import MASK, mask, mask_text


def lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]


def test_lines_carry_request_trace_and_span_ids(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("unit", "INFO")
    telemetry.setup_tracing("unit")
    tracer = telemetry.get_tracer("unit")
    with (
        structlog.contextvars.bound_contextvars(request_id="req-42"),
        tracer.start_as_current_span("work") as span,
    ):
        get_logger("unit").info("did something", vrn="123456789")
        logging.getLogger("some.library").warning("library says hello")
    ctx = span.get_span_context()
    ours, theirs = lines(capsys)[-2:]
    for line in (ours, theirs):
        assert line["request_id"] == "req-42"
        assert line["trace_id"] == format(ctx.trace_id, "032x")
        assert line["span_id"] == format(ctx.span_id, "016x")
        assert line["service"] == "unit"
    assert ours["event"] == "did something"
    assert theirs["event"] == "library says hello"
    assert theirs["level"] == "warning"


def test_secrets_are_masked_in_fields_and_free_text(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("unit", "INFO")
    get_logger("unit").info(
        "calling HMRC with Authorization: Bearer eyJhbGciOi.abc.def and client_secret=s3cr3t",
        client_secret="s3cr3t",
        headers={"Authorization": "Bearer eyJhbGciOi.abc.def", "Accept": "application/json"},
        totp_seed="JBSWY3DPEHPK3PXP",
        database="postgresql://svc:pa55word@db:5432/mtd",
    )
    logging.getLogger("httpx").info("refresh_token=rt-123&grant_type=refresh_token")
    output = capsys.readouterr().out
    for secret in ("s3cr3t", "eyJhbGciOi", "JBSWY3DPEHPK3PXP", "pa55word", "rt-123"):
        assert secret not in output
    first = json.loads(output.splitlines()[0])
    assert first["client_secret"] == MASK
    assert first["headers"] == {"Authorization": MASK, "Accept": "application/json"}
    assert "grant_type=refresh_token" in output


def test_mask_leaves_ordinary_data_alone() -> None:
    data = {"vrn": "123456789", "periodKey": "18A1", "boxes": [1, "2.00"], "token_type": "bearer"}
    masked = mask(data)
    assert masked["vrn"] == "123456789"
    assert masked["boxes"] == [1, "2.00"]
    assert mask_text("no secrets here") == "no secrets here"
