"""`python -m services.canary`: one run (the CronJob), or a run every N seconds serving
/metrics (the local stack). Exit status 0 when the run succeeded, 1 when it failed.

    python -m services.canary --stack-env .local/stack.env --every 60 --metrics-port 9469
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from opentelemetry import baggage, context
from prometheus_client import start_http_server

from services.canary import metrics
from services.canary.journey import Journey, JourneyFailed
from services.canary.provision import api_client
from services.canary.settings import STACK_ENV_KEYS, CanarySettings
from services.common import telemetry
from services.common.logging import configure_logging, get_logger
from services.common.settings import load_settings, setting_name

log = get_logger("services.canary")
tracer = telemetry.get_tracer(__name__)


@dataclass
class RunResult:
    success: bool
    seconds: float
    failed_step: str | None = None
    trace_id: str = ""
    facts: dict[str, str] = field(default_factory=dict)


class Canary:
    def __init__(self, settings: CanarySettings) -> None:
        self.settings = settings
        self._client: tuple[str, str] | None = None

    async def run_once(self) -> RunResult:
        started = time.monotonic()
        # Every request of the run, and every span the services start for it, is synthetic.
        token = context.attach(baggage.set_baggage(telemetry.SYNTHETIC, "true"))
        try:
            with tracer.start_as_current_span("canary run") as span:
                trace_id = format(span.get_span_context().trace_id, "032x")
                result = await self._journey(started, trace_id)
                span.set_attribute("canary.success", result.success)
                log.info(
                    "canary run finished",
                    outcome="success" if result.success else "failure",
                    failed_step=result.failed_step,
                    duration_s=round(result.seconds, 3),
                    vrn=result.facts.get("vrn"),
                    submission_id=result.facts.get("submission_id"),
                )
        finally:
            context.detach(token)
        metrics.record(result.success, result.seconds)
        self.export(result.success)
        return result

    async def _journey(self, started: float, trace_id: str) -> RunResult:
        timeout = httpx.Timeout(self.settings.request_timeout)
        async with httpx.AsyncClient(timeout=timeout) as http:
            journey = Journey(self.settings, http)
            try:
                if self._client is None:
                    self._client = await journey.step(
                        "provision", lambda: api_client(self.settings, http, journey.secrets)
                    )
                await journey.run(*self._client)
            except JourneyFailed as exc:
                log.warning("canary step failed", step=exc.step, error=str(exc))
                if exc.step == "token" and not self.settings.client_id:
                    self._client = None  # provisioned on a stack since reset: provision again
                return RunResult(
                    False, time.monotonic() - started, exc.step, trace_id, journey.facts
                )
            except Exception as exc:  # a run must end in a result, never kill the loop
                log.error("canary run crashed", exc_info=exc)
                return RunResult(
                    False, time.monotonic() - started, "unexpected", trace_id, journey.facts
                )
        return RunResult(True, time.monotonic() - started, None, trace_id, journey.facts)

    def export(self, success: bool) -> None:
        s = self.settings
        if s.pushgateway_url:
            try:
                metrics.push(s.pushgateway_url, success)
            except OSError as exc:
                log.error("canary metrics not pushed", error=str(exc))
        if s.textfile:
            metrics.write_textfile(s.textfile, success)


def apply_stack_env(path: Path) -> None:
    """Fill unset CANARY_* variables from the local stack's stack.env."""
    for line in path.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() in STACK_ENV_KEYS:
            name = setting_name(CanarySettings, STACK_ENV_KEYS[key.strip()])
            os.environ.setdefault(name, value.strip())


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m services.canary", description=__doc__)
    parser.add_argument("--every", type=float, help="run every SECONDS instead of once")
    parser.add_argument("--metrics-port", type=int, help="serve /metrics here (loop mode)")
    parser.add_argument("--stack-env", type=Path, help="the local stack's stack.env")
    return parser.parse_args(argv)


async def loop(canary: Canary, every: float) -> None:
    while True:
        started = time.monotonic()
        await canary.run_once()
        await asyncio.sleep(max(0.0, every - (time.monotonic() - started)))


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.stack_env:
        apply_stack_env(args.stack_env)
    settings = load_settings(CanarySettings)
    configure_logging("canary", settings.log_level)
    telemetry.setup_tracing("canary", settings.otlp_endpoint)
    canary = Canary(settings)
    try:
        if args.every:
            port = args.metrics_port if args.metrics_port is not None else settings.metrics_port
            if port is not None:
                start_http_server(port, addr=settings.host)
                log.info("canary serving metrics", port=port)
            asyncio.run(loop(canary, args.every))
        result = asyncio.run(canary.run_once())
    except KeyboardInterrupt:
        return
    finally:
        telemetry.shutdown()
    raise SystemExit(0 if result.success else 1)
