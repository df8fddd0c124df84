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
import os
import statistics
import time
import uuid
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx

ACCEPT = {"Accept": "application/vnd.hmrc.1.0+json"}
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


def stack_env() -> dict[str, str]:
    path = Path(os.environ.get("MTD_LOCAL_DIR", ".local")) / "stack.env"
    lines = path.read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line)


async def client_token(http: httpx.AsyncClient, url: str, cid: str, secret: str) -> str:
    r = await http.post(
        f"{url}/v1/auth/token",
        data={"grant_type": "client_credentials", "client_id": cid, "client_secret": secret},
    )
    r.raise_for_status()
    return str(r.json()["access_token"])


async def connect_vrn(http: httpx.AsyncClient, env: dict[str, str], token: str, app: str) -> str:
    sim, auth = env["HMRC_SANDBOX_URL"], env["AUTH_URL"]
    r = await http.post(
        f"{sim}/create-test-user/organisations",
        json={"serviceNames": ["mtd-vat"]},
        headers={**ACCEPT, "Authorization": f"Bearer {app}"},
    )
    r.raise_for_status()
    user = r.json()
    r = await http.post(f"{auth}/v1/connections", json={"vrn": user["vrn"]}, headers=bearer(token))
    r.raise_for_status()
    authorize = r.json()["authorize_url"]
    params = dict(parse_qsl(urlsplit(authorize).query))
    r = await http.post(
        f"{sim}/oauth/authorize",
        data={
            **params,
            "user_id": user["userId"],
            "password": user["password"],
            "decision": "grant",
        },
    )
    r = await http.get(r.headers["location"], headers={"Accept": "application/json"})
    r.raise_for_status()
    return str(user["vrn"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def main(args: argparse.Namespace) -> None:
    env = stack_env()
    async with httpx.AsyncClient(timeout=60) as http:
        admin = await client_token(
            http, env["AUTH_URL"], env["BOOTSTRAP_CLIENT_ID"], env["BOOTSTRAP_CLIENT_SECRET"]
        )
        r = await http.post(
            f"{env['AUTH_URL']}/v1/tenants",
            json={"name": f"bench-{uuid.uuid4().hex[:6]}"},
            headers=bearer(admin),
        )
        tenant = r.json()["id"]
        r = await http.post(
            f"{env['AUTH_URL']}/v1/tenants/{tenant}/clients",
            json={"name": "bench", "roles": ["submitter"]},
            headers=bearer(admin),
        )
        r.raise_for_status()
        token = await client_token(
            http, env["AUTH_URL"], r.json()["client_id"], r.json()["client_secret"]
        )
        r = await http.put(
            f"{env['HMRC_SANDBOX_URL']}/control/rate-limit",
            json={"requests_per_second": args.hmrc_rate},
        )
        r.raise_for_status()
        r = await http.post(
            f"{env['HMRC_SANDBOX_URL']}/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": env["HMRC_CLIENT_ID"],
                "client_secret": env["HMRC_CLIENT_SECRET"],
            },
        )
        app = r.json()["access_token"]
        print(f"connecting {args.vrns} VRNs …", flush=True)
        vrns = [await connect_vrn(http, env, token, app) for _ in range(args.vrns)]
        work: list[tuple[str, str]] = []
        for vrn in vrns:
            r = await http.get(
                f"{env['OBLIGATIONS_URL']}/v1/vat/{vrn}/obligations",
                params={"status": "O"},
                headers={**bearer(token), **DEVICE},
            )
            r.raise_for_status()
            work += [(vrn, o["periodKey"]) for o in r.json()["obligations"]]
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
