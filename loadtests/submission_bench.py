"""Submission figures against the local stack: POST latency at a steady rate, and accepted
returns per second end to end (API → queue → worker → gateway → HMRC simulator).

    make up                                           # the real 3/s HMRC limit
    HMRC_GATEWAY_RATE_PER_SECOND=200 make up          # to measure the pipeline itself
    .venv/bin/python -m loadtests.submission_bench --vrns 100 --rate 50

It connects VRNs the way a script would (simulator test users, auth's connection flow,
the consent form posted directly), then POSTs one return per open obligation.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from datetime import datetime

import httpx

from loadtests.provision import Provisioner, bearer, stack_env

DEVICE = {
    "Gov-Client-Connection-Method": "WEB_APP_VIA_SERVER",
    "Gov-Client-Device-ID": "beec798b-b366-47fa-b1f8-92cede14a1ce",
    "Gov-Client-User-IDs": "bench-app=bench%20user",
    "Gov-Client-Timezone": "UTC+00:00",
    "Gov-Client-Screens": "width=1920&height=1080&scaling-factor=1&colour-depth=24",
    "Gov-Client-Window-Size": "width=1256&height=803",
    "Gov-Client-Browser-JS-User-Agent": "Mozilla%2F5.0%20(X11)",
    "Gov-Client-Multi-Factor": "type=TOTP&timestamp=2026-11-27T10%3A20Z&unique-reference=b1",
    "Gov-Vendor-Version": "bench-app=1.0.0",
    "Gov-Vendor-License-IDs": "bench-app=LICENCE-1",
    "Forwarded": 'for="81.2.69.160:41234"',
}
RETURN_BODY = (
    '{{"periodKey":"{pk}","vatDueSales":100.10,"vatDueAcquisitions":0.00,'
    '"totalVatDue":100.10,"vatReclaimedCurrPeriod":40.00,"netVatDue":60.10,'
    '"totalValueSalesExVAT":500,"totalValuePurchasesExVAT":200,'
    '"totalValueGoodsSuppliedExVAT":0,"totalAcquisitionsExVAT":0,"finalised":true}}'
)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def main(args: argparse.Namespace) -> None:
    env = stack_env()
    async with httpx.AsyncClient(timeout=60) as http:
        setup = Provisioner(http, env)
        await setup.control("PUT", "/rate-limit", {"requests_per_second": args.hmrc_rate})
        tenant = await setup.tenant("bench")
        token = tenant.token
        print(f"connecting {args.vrns} VRNs …", flush=True)
        vrns = [await setup.connect_vrn(tenant) for _ in range(args.vrns)]
        work: list[tuple[str, str]] = []
        for vrn in vrns:
            opened = await setup.open_obligations(tenant, vrn, DEVICE)
            work += [(o.vrn, o.period_key) for o in opened]
        print(f"posting {len(work)} returns at {args.rate}/s …", flush=True)
        latencies: list[float] = []
        status_urls: list[str] = []
        started = time.monotonic()

        async def post(vrn: str, pk: str) -> None:
            t0 = time.perf_counter()
            r = await http.post(
                f"{env['SUBMISSION_URL']}/v1/vat/{vrn}/returns",
                content=RETURN_BODY.format(pk=pk),
                headers={
                    **bearer(token),
                    **DEVICE,
                    "Idempotency-Key": uuid.uuid4().hex,
                    "content-type": "application/json",
                },
            )
            latencies.append((time.perf_counter() - t0) * 1000)
            if r.status_code == 202:
                status_urls.append(r.headers["location"])
            else:
                print("refused", r.status_code, r.text[:200])

        tasks = []
        for n, (vrn, pk) in enumerate(work):
            await asyncio.sleep(max(0.0, started + n / args.rate - time.monotonic()))
            tasks.append(asyncio.create_task(post(vrn, pk)))
        await asyncio.gather(*tasks)
        print(
            f"POST: n={len(latencies)} p50={statistics.median(latencies):.1f}ms "
            f"p95={percentile(latencies, 95):.1f}ms p99={percentile(latencies, 99):.1f}ms",
            flush=True,
        )
        accepted_at: list[datetime] = []
        first_post = None
        deadline = time.monotonic() + args.timeout
        pending = list(status_urls)
        while pending and time.monotonic() < deadline:
            still = []
            for url in pending:
                doc = (
                    await http.get(f"{env['SUBMISSION_URL']}{url}", headers=bearer(token))
                ).json()
                if doc["status"] in ("accepted", "rejected"):
                    accepted_at.append(datetime.fromisoformat(doc["history"][-1]["at"]))
                    received = datetime.fromisoformat(doc["history"][0]["at"])
                    first_post = min(first_post or received, received)
                else:
                    still.append(url)
            pending = still
            print(f"  done {len(status_urls) - len(pending)}/{len(status_urls)}", flush=True)
            if pending:
                await asyncio.sleep(2)
        assert first_post is not None
        span = (max(accepted_at) - first_post).total_seconds()
        print(
            f"end to end: {len(accepted_at)} final in {span:.1f}s = "
            f"{len(accepted_at) / span:.1f} returns/s; not final: {len(pending)}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--vrns", type=int, default=50)
    parser.add_argument("--rate", type=float, default=50.0, help="POSTs per second")
    parser.add_argument("--hmrc-rate", type=float, default=3.0, help="the simulator's limit")
    parser.add_argument("--timeout", type=float, default=600.0)
    asyncio.run(main(parser.parse_args()))
