"""The synthetic canary against the real local stack: a successful journey exports success,
its traffic is marked synthetic in every service's spans, and a run during an HMRC outage
exports failure without losing the time of the last success."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx

from tests.observability.collector import Span
from tests.observability.conftest import CanaryLoop, EndToEnd, run_canary_once
from tests.observability.metrics_text import parse, value


def scrape_until_success(url: str, timeout: float = 180) -> dict[tuple[str, str], float]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            samples = parse(httpx.get(url, timeout=5).text)
        except httpx.HTTPError:
            samples = {}
        if value(samples, "canary_runs_total", outcome="success") >= 1:
            return samples
        assert time.monotonic() < deadline, f"no successful canary run: {samples}"
        time.sleep(1)


def test_loop_mode_runs_the_journey_and_serves_success(canary_loop: CanaryLoop) -> None:
    samples = scrape_until_success(canary_loop.metrics_url)
    last = value(samples, "canary_last_success_timestamp_seconds")
    assert time.time() - 600 < last <= time.time()
    assert value(samples, "canary_run_duration_seconds_count") >= 1
    assert value(samples, "canary_run_duration_seconds_sum") > 0
    lines = [json.loads(line) for line in canary_loop.log_file.read_text().splitlines()]
    finished = [line for line in lines if line["event"] == "canary run finished"]
    assert finished[0]["outcome"] == "success", finished
    assert finished[0]["submission_id"]


def test_canary_traffic_is_marked_synthetic_in_every_service(
    canary_loop: CanaryLoop, end_to_end: EndToEnd
) -> None:
    scrape_until_success(canary_loop.metrics_url)
    collector = end_to_end.stack.collector
    runs = [s for s in collector.spans if s.service == "canary" and s.name == "canary run"]
    assert runs, "the canary exported no run span"

    def services_marked(spans: list[Span]) -> set[str]:
        return {s.service for s in spans if s.attributes.get("synthetic_request") is True}

    wanted = {"auth", "obligations", "submission", "hmrc_gateway", "hmrc_sandbox", "audit"}
    spans = collector.wait_for(
        lambda spans: wanted <= services_marked(spans), runs[0].trace_id, timeout=30
    )
    assert wanted <= services_marked(spans)
    steps = {s.attributes.get("canary.step") for s in spans if s.service == "canary"}
    assert {"token", "connect", "obligations", "submit", "status", "view", "audit"} <= steps
    # The client's own traffic in the end-to-end run carries no such mark.
    assert not services_marked(collector.trace(end_to_end.run.trace_id))


def test_a_run_during_an_hmrc_outage_exports_failure_and_keeps_the_last_success(
    end_to_end: EndToEnd, tmp_path: Path
) -> None:
    stack = end_to_end.stack
    textfile = tmp_path / "textfile" / "canary.prom"
    ok = run_canary_once(stack, CANARY_TEXTFILE=str(textfile))
    assert ok.returncode == 0, ok.stdout[-3000:] + ok.stderr[-3000:]
    first = parse(textfile.read_text())
    assert value(first, "canary_runs_total", outcome="success") == 1
    last_success = value(first, "canary_last_success_timestamp_seconds")
    assert last_success > 0

    sim = stack.env["HMRC_SANDBOX_URL"]
    httpx.put(f"{sim}/control/outage", json={"seconds": 120}, timeout=5).raise_for_status()
    try:
        failed = run_canary_once(stack, CANARY_TEXTFILE=str(textfile), CANARY_ACCEPT_TIMEOUT="20")
    finally:
        httpx.delete(f"{sim}/control/outage", timeout=5).raise_for_status()
    assert failed.returncode == 1, failed.stdout[-3000:] + failed.stderr[-3000:]
    after = parse(textfile.read_text())
    assert value(after, "canary_runs_total", outcome="failure") == 1
    assert value(after, "canary_runs_total", outcome="success") == 0
    assert value(after, "canary_run_duration_seconds_count") == 1
    # A new process failed: the alert still measures from the earlier success.
    assert value(after, "canary_last_success_timestamp_seconds") == last_success
    events = [json.loads(line) for line in failed.stdout.splitlines() if line.startswith("{")]
    (finished,) = [e for e in events if e["event"] == "canary run finished"]
    assert finished["outcome"] == "failure"
    assert finished["failed_step"] in {"connect", "obligations", "submit", "status"}


def test_a_read_only_run_checks_the_audit_record_of_its_own_hmrc_read(
    end_to_end: EndToEnd, tmp_path: Path
) -> None:
    """Where returns must not be sent (HMRC production) the canary reads instead."""
    run, stack = end_to_end.run, end_to_end.stack
    textfile = tmp_path / "canary.prom"
    result = run_canary_once(
        stack,
        CANARY_SUBMIT="false",
        CANARY_VRN=run.vrn,
        CANARY_CLIENT_ID=run.client_id,
        CANARY_CLIENT_SECRET=run.client_secret,
        CANARY_HMRC_SANDBOX_URL="",
        CANARY_TEXTFILE=str(textfile),
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert value(parse(textfile.read_text()), "canary_runs_total", outcome="success") == 1
    events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    (finished,) = [e for e in events if e["event"] == "canary run finished"]
    spans = stack.collector.wait_for(
        lambda spans: any(s.name == "canary run" for s in spans), finished["trace_id"]
    )
    steps = {s.attributes.get("canary.step") for s in spans if s.service == "canary"}
    assert steps - {None, "provision"} == {"token", "obligations", "status", "audit"}
    assert not any(s.service == "submission" and s.kind == "PRODUCER" for s in spans)
