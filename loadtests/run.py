"""One command for the deadline question: does every return reach HMRC, once, in due-date
order, within HMRC's rate limit — and how does a direct integration fare on the same load?

    .venv/bin/python -m loadtests.run --profile smoke|deadline|soak
    make load PROFILE=deadline

It starts the local stack when it is not up (`python -m services.stack up`; the stack's
files are in `$MTD_LOCAL_DIR`, default `.local/`), builds tenants and connected VRNs,
runs k6, waits for the queue to drain, reconciles against the submission database and the
simulator's counters, runs the same returns through `hmrclib` straight at the simulator,
and writes everything to `loadtests/results/<UTC time>/`. Exit status 1 when the
reconciliation fails.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import shlex
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import httpx

from loadtests import naive
from loadtests.k6run import metric, run_k6, write_config
from loadtests.monitor import QueueSampler, drain, submission_database
from loadtests.provision import (
    Obligation,
    Provisioner,
    Tenant,
    bounded,
    client_token,
    local_dir,
    stack_env,
)
from loadtests.reconcile import load_run, reconcile
from loadtests.report import backlog_drain_rate, plots, write
from loadtests.workload import Item, Profile, build_items, calendars, profile

RESULTS = Path(__file__).parent / "results"
# Device data for the setup reads (the returns themselves carry their own per item).
SETUP_DEVICE = {
    "Gov-Client-Connection-Method": "BATCH_PROCESS_DIRECT",
    "Gov-Client-Device-ID": "0f5a7f0e-3c55-4c1a-9f43-6a2f1c6c8b11",
    "Gov-Client-User-IDs": "os=load&load-accounts=setup",
    "Gov-Client-Timezone": "UTC+00:00",
    "Gov-Client-Local-IPs": "10.1.2.3",
    "Gov-Client-MAC-Addresses": "ea%3A43%3A1a%3A5d%3A21%3A45",
    "Gov-Client-User-Agent": "os-family=Linux&os-version=6&device-manufacturer=Load&device-model=1",
    "Gov-Vendor-Version": "load-accounts=3.2.1",
    "Gov-Vendor-License-IDs": "load-accounts=LICENCE-0000",
}


def say(message: str) -> None:
    print(message, flush=True)


def stack_ready(root: Path) -> bool:
    if not (root / "stack.env").exists():
        return False
    env = stack_env(root)
    urls = [v for k, v in env.items() if k.endswith("_URL") and v.startswith("http")]
    try:
        return bool(urls) and all(
            httpx.get(f"{u}/readyz", timeout=2).status_code == 200 for u in urls
        )
    except httpx.HTTPError:
        return False


def ensure_stack(root: Path, hmrc_rate: float) -> bool:
    """Start the stack unless it answers already; True when this run started it."""
    if stack_ready(root):
        return False
    say(f"starting the local stack in {root} …")
    env = dict(os.environ, MTD_LOCAL_DIR=str(root))
    # The gateway spends the limit the simulator enforces (unless told otherwise).
    env.setdefault("HMRC_GATEWAY_RATE_PER_SECOND", f"{hmrc_rate:g}")
    env.setdefault("SUBMISSION_HMRC_RATE_PER_SECOND", f"{hmrc_rate * 0.95:g}")
    subprocess.run([sys.executable, "-m", "services.stack", "up"], env=env, check=True, timeout=300)
    return True


def stop_stack(root: Path) -> None:
    env = dict(os.environ, MTD_LOCAL_DIR=str(root))
    subprocess.run(
        [sys.executable, "-m", "services.stack", "down"], env=env, check=False, timeout=120
    )


def machine() -> str:
    one, five, _ = os.getloadavg()
    return f"{os.cpu_count()} CPUs, load average {one:.2f} (1 min) {five:.2f} (5 min) at start"


async def provision(
    setup: Provisioner, p: Profile
) -> tuple[list[Tenant], dict[int, list[Obligation]], dict[str, tuple[str, str]]]:
    """Tenants, their VRNs (round robin) with staggered calendars, and the open obligations
    read once through the platform so its cache holds them when the returns arrive."""
    tenants = await bounded(4, [partial(setup.tenant, f"load-{i}") for i in range(p.tenants)])
    vrn_count = p.tenants * p.vrns_per_tenant
    valid = p.arrivals - round(p.arrivals * p.invalid_share)
    cals = calendars(vrn_count, math.ceil(valid / vrn_count) + 1, datetime.now(UTC).date())
    say(f"creating {vrn_count} VRNs for {p.tenants} tenants …")
    users = await bounded(8, [setup.test_user] * vrn_count)
    await bounded(
        8,
        [
            partial(setup.set_calendar, str(u["vrn"]), c[0], c[1])
            for u, c in zip(users, cals, strict=True)
        ],
    )
    await bounded(
        8,
        [partial(setup.connect, tenants[n % len(tenants)], u) for n, u in enumerate(users)],
    )
    say(f"reading open obligations through the platform (~{vrn_count / p.hmrc_rate:.0f}s or more)")
    owner = {vrn: n for n, t in enumerate(tenants) for vrn in t.vrns}
    found = await bounded(
        4,
        [partial(setup.open_obligations, tenants[owner[vrn]], vrn, SETUP_DEVICE) for vrn in owner],
    )
    obligations: dict[int, list[Obligation]] = {}
    for obs in found:
        for o in obs:
            obligations.setdefault(owner[o.vrn], []).append(o)
    calendar_of = {
        str(u["vrn"]): (c[0], c[1].isoformat()) for u, c in zip(users, cals, strict=True)
    }
    return tenants, obligations, calendar_of


def describe(items: list[Item], obligations: dict[int, list[Obligation]]) -> dict[str, Any]:
    dues = sorted({o.due for obs in obligations.values() for o in obs})
    return {
        "items": len(items),
        "obligations": sum(len(obs) for obs in obligations.values()),
        "first_due": dues[0].isoformat() if dues else "-",
        "last_due": dues[-1].isoformat() if dues else "-",
        "kinds": ", ".join(f"{k} {n}" for k, n in sorted(Counter(i.kind for i in items).items())),
        "methods": ", ".join(sorted({i.method for i in items})),
    }


def hmrc_submits(timeline: dict[str, Any], client_id: str) -> dict[int, int]:
    """Successful submits HMRC counted per second for one application."""
    out: Counter[int] = Counter()
    for what, seconds in timeline.get(client_id, {}).items():
        endpoint, status = what.rsplit(" ", 1)
        if endpoint == "submit_return" and status.startswith("2"):
            for second, n in seconds.items():
                out[int(second)] += n
    return dict(out)


async def run(args: argparse.Namespace) -> int:
    root = local_dir().resolve()
    p = profile(
        args.profile,
        spike_rate=args.spike_rate,
        spike_seconds=args.spike_seconds,
        soak_rate=args.soak_rate,
        soak_seconds=args.soak_seconds,
        hmrc_rate=args.hmrc_rate,
    )
    started_stack = ensure_stack(root, p.hmrc_rate)
    env = stack_env(root)
    started = datetime.now(UTC)
    out = Path(args.results) / started.strftime("%Y-%m-%dT%H-%M-%SZ")
    out.mkdir(parents=True, exist_ok=True)
    command = " ".join(["python -m loadtests.run", *map(shlex.quote, sys.argv[1:])])
    load = machine()
    db = submission_database(env)
    try:
        async with httpx.AsyncClient(timeout=180) as http:
            setup = Provisioner(http, env)
            await setup.control("PUT", "/rate-limit", {"requests_per_second": p.hmrc_rate})
            tenants, obligations, calendar_of = await provision(setup, p)
            items = build_items(p, obligations)
            say(f"prepared {len(items)} returns for {sum(len(t.vrns) for t in tenants)} VRNs")
            await setup.control("POST", "/counters/reset")

            sampler_token: dict[str, Any] = {"at": 0.0, "value": ""}

            async def token() -> str:
                # Auth's tokens last 15 minutes; a drain can take longer.
                if time.monotonic() - sampler_token["at"] > 600:
                    t = tenants[0]
                    sampler_token["value"] = await client_token(
                        http, env["AUTH_URL"], t.client_id, t.client_secret
                    )
                    sampler_token["at"] = time.monotonic()
                return str(sampler_token["value"])

            sampler = QueueSampler(http, env["SUBMISSION_URL"], token)
            sampler.start()
            with tempfile.TemporaryDirectory(prefix="mtd-load-") as private:
                config = Path(private) / "k6-config.json"
                write_config(config, p, env, tenants, items)
                say(f"k6: profile {p.name}, {p.seconds}s of arrivals …")
                origin = time.time()
                k6 = await asyncio.to_thread(run_k6, config, out, out / "k6.log")
                k6_ended = time.time()
            api_accepted = int(metric(k6.summary, "returns_accepted", "count"))
            say(f"k6 done (exit {k6.exit_code}): {api_accepted} accepted; draining the queue")
            tenant_ids = [t.id for t in tenants]
            await drain(db, tenant_ids, p.drain_timeout)
            await asyncio.sleep(2)  # one more queue sample at zero
            await sampler.stop()
            sent = await load_run(db, tenant_ids)
            counters = await setup.control("GET", "/counters")
            timeline = await setup.control("GET", "/counters/timeline")
            result = reconcile(
                sent,
                counters,
                api_accepted=api_accepted,
                platform_client=env["HMRC_CLIENT_ID"],
                limit=p.hmrc_rate,
                order_slack=args.order_slack,
            )
            # Iteration n sent return n: the first len(samples) returns went out.
            sent_items = items[: len(k6.samples)]
            valid_sent = sum(1 for i in sent_items if i.kind == "valid")
            platform_row = {
                "sent": len(sent_items),
                "accepted": result.accepted_with_receipt,
                "rejected": int(metric(k6.summary, "returns_refused", "count"))
                + result.rejected_by_hmrc,
                "errors": int(metric(k6.summary, "returns_unexpected", "count")),
                "not_filed": valid_sent - result.accepted_with_receipt,
                "lost": result.api_accepted - result.accepted_with_receipt,
                "duplicated": result.stored_more_than_once + result.duplicate_attempts,
                "throttled": result.throttled,
                "peak_per_second": result.peak_per_second,
                "drain_seconds": result.drain_seconds,
            }
            say(
                "reconciliation: "
                + ("passed" if result.ok else "FAILED: " + "; ".join(result.failures))
            )
            naive_row = None
            if not args.no_compare:
                say("comparison: the same returns straight to HMRC with hmrclib …")
                client_id, clients = await naive.connect(setup, p.hmrc_rate, calendar_of)
                # The same returns at the moments k6 sent its requests.
                starts = sorted(t for t, _, _ in k6.samples)
                times = [t - starts[0] for t in starts]
                naive_run = await asyncio.to_thread(
                    naive.send_all, p, sent_items, times, clients, client_id
                )
                after = await setup.control("GET", "/counters")
                naive_row = naive.tally(naive_run, sent_items, clients, after)
        (out / "queue-depth.json").write_text(json.dumps(sampler.samples))
        (out / "hmrc-timeline.json").write_text(json.dumps(timeline))
        submits = hmrc_submits(timeline, env["HMRC_CLIENT_ID"])
        plots(
            out,
            origin,
            k6.samples,
            submits,
            sampler.samples,
            p.hmrc_rate,
        )
        report = write(
            out,
            p=p,
            command=command,
            started=started.isoformat(timespec="seconds"),
            machine=load,
            k6_exit=k6.exit_code,
            summary=k6.summary,
            result=result,
            platform_row=platform_row,
            naive_row=naive_row,
            setup=describe(sent_items, obligations),
            backlog_rate=backlog_drain_rate(submits, sampler.samples, p.hmrc_rate),
            drain_only_rate=backlog_drain_rate(
                submits, sampler.samples, p.hmrc_rate, after=k6_ended
            ),
        )
        say(f"report: {report}")
        return 0 if result.ok else 1
    finally:
        await db.dispose()
        if started_stack and args.stop_stack:
            stop_stack(root)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--profile", choices=("smoke", "baseline", "deadline", "soak"), default="smoke"
    )
    parser.add_argument("--spike-rate", type=float, default=50.0, help="deadline: returns/s")
    parser.add_argument("--spike-seconds", type=int, default=120, help="deadline: spike length")
    parser.add_argument("--soak-rate", type=float, default=2.0)
    parser.add_argument("--soak-seconds", type=int, default=600)
    parser.add_argument("--hmrc-rate", type=float, default=3.0, help="the simulator's limit")
    parser.add_argument(
        "--order-slack",
        type=float,
        default=1.0,
        help="seconds a return must have waited before another's claim counts as overtaking",
    )
    parser.add_argument("--results", default=str(RESULTS))
    parser.add_argument("--no-compare", action="store_true", help="skip the hmrclib run")
    parser.add_argument("--stop-stack", action="store_true", help="stop a stack this run started")
    return asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
