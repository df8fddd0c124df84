"""Bench (not a test): two governor processes, 20 concurrent callers between them, 60 s of
obligations reads against the HMRC simulator limited to 3 requests/s. Prints the
simulator's highest one-second rate, the 429s and the throughput against the limit.

    .venv/bin/python -m services.hmrc_gateway.bench [--seconds 60] [--callers 20]

Uses DATABASE_URL when set, else an embedded PostgreSQL in a temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx

from services.common import migrations
from services.common.database import with_database
from services.hmrc_gateway.governor import READ, Governor
from services.hmrc_gateway.hmrc_client import OBLIGATIONS, HmrcClient, HmrcRequest, vat_path
from services.stack.embedded import EmbeddedPostgres, free_port

ACCEPT = {"Accept": "application/vnd.hmrc.1.0+json"}
REDIRECT = "https://platform.example/callback"


async def worker(
    db_url: str,
    hmrc_url: str,
    token: str,
    vrn: str,
    callers: int,
    seconds: float,
    rate: float,
    replica: str,
) -> dict[str, Any]:
    gov = Governor(db_url, replica_id=replica, interval=1 / (rate * 0.95), poll_interval=1.0)
    loops = [asyncio.create_task(gov.listen_forever()), asyncio.create_task(gov.dispatch_forever())]
    client = HmrcClient(
        hmrc_url, connect_timeout=3, timeouts={"read_timeout": 10}, max_connections=callers
    )
    statuses: dict[str, int] = {}
    request = HmrcRequest(
        OBLIGATIONS, vat_path(vrn, "obligations"), {"from": "2026-01-01", "to": "2026-12-31"}
    )
    end = time.monotonic() + seconds

    async def caller() -> None:
        while time.monotonic() < end:
            await gov.acquire(READ, timeout=30)
            if time.monotonic() >= end:
                return
            response = await client.send(request, token)
            statuses[str(response.status)] = statuses.get(str(response.status), 0) + 1
            if response.status == 429:
                await gov.pause(1.0)

    await asyncio.gather(*(caller() for _ in range(callers)))
    for task in loops:
        task.cancel()
    await client.aclose()
    await gov.close()
    return statuses


async def connect_user(http: httpx.AsyncClient, client_id: str, secret: str) -> tuple[str, str]:
    r = await http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )
    app_token = r.json()["access_token"]
    r = await http.post(
        "/create-test-user/organisations",
        json={"serviceNames": ["mtd-vat"]},
        headers={**ACCEPT, "Authorization": f"Bearer {app_token}"},
    )
    user = r.json()
    r = await http.post(
        "/oauth/authorize",
        params={
            "response_type": "code",
            "client_id": client_id,
            "scope": "read:vat write:vat",
            "redirect_uri": REDIRECT,
        },
        data={"user_id": user["userId"], "password": user["password"], "decision": "grant"},
    )
    code = parse_qs(urlparse(r.headers["location"]).query)["code"][0]
    r = await http.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "client_id": client_id,
            "client_secret": secret,
        },
    )
    return str(r.json()["access_token"]), str(user["vrn"])


async def wait_ready(url: str) -> None:
    async with httpx.AsyncClient(base_url=url) as http:
        for _ in range(300):
            try:
                if (await http.get("/readyz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("the simulator did not become ready")


async def main(seconds: float, callers: int, rate: float) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="gw-bench-"))
    server = None
    server_url = os.environ.get("DATABASE_URL")
    if server_url is None:
        server = EmbeddedPostgres(tmp / "pg", free_port(), durable=False)
        server_url = server.start()
    sim_proc = None
    try:
        names = {s: f"bench_{s}_{uuid.uuid4().hex[:6]}" for s in ("hmrc_sandbox", "hmrc_gateway")}
        urls = {}
        for service, name in names.items():
            await migrations.ensure_database(server_url, name)
            urls[service] = with_database(server_url, name)
            await asyncio.to_thread(migrations.upgrade, service, urls[service])
        port, client_id, secret = free_port(), "bench-app", secrets.token_urlsafe(16)
        env = {
            **os.environ,
            "HMRC_SANDBOX_PORT": str(port),
            "HMRC_SANDBOX_ENVIRONMENT": "test",
            "HMRC_SANDBOX_DATABASE_URL": urls["hmrc_sandbox"],
            "HMRC_SANDBOX_CLIENT_ID": client_id,
            "HMRC_SANDBOX_CLIENT_SECRET": secret,
            "HMRC_SANDBOX_CONTROL_ENABLED": "true",
            "HMRC_SANDBOX_RATE_LIMIT_PER_SECOND": str(rate),
            "HMRC_SANDBOX_LOG_LEVEL": "WARNING",
        }
        sim_proc = subprocess.Popen(  # noqa: ASYNC220 - started once, before the clock runs
            [sys.executable, "-m", "services.hmrc_sandbox"], env=env, stdout=subprocess.DEVNULL
        )
        sim_url = f"http://127.0.0.1:{port}"
        await wait_ready(sim_url)
        async with httpx.AsyncClient(base_url=sim_url) as http:
            token, vrn = await connect_user(http, client_id, secret)
            await http.post("/control/counters/reset")
            per = [callers // 2, callers - callers // 2]
            procs = [
                await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "services.hmrc_gateway.bench",
                    "--worker",
                    json.dumps(
                        {
                            "db_url": urls["hmrc_gateway"],
                            "hmrc_url": sim_url,
                            "token": token,
                            "vrn": vrn,
                            "callers": n,
                            "seconds": seconds,
                            "rate": rate,
                            "replica": f"bench-{i}",
                        }
                    ),
                    stdout=asyncio.subprocess.PIPE,
                )
                for i, n in enumerate(per)
            ]
            outputs = [
                json.loads((await p.communicate())[0].decode().strip().splitlines()[-1])
                for p in procs
            ]
            counters = (await http.get("/control/counters")).json()
        sent = sum(sum(o.values()) for o in outputs)
        peak = counters["peakRequestsPerSecond"].get(client_id)
        print(  # noqa: T201 - a command-line bench
            json.dumps(
                {
                    "seconds": seconds,
                    "callers": callers,
                    "processes": 2,
                    "limit_per_second": rate,
                    "requests_sent": sent,
                    "statuses_by_process": outputs,
                    "simulator_peak_requests_per_second": peak,
                    "simulator_429s": counters["throttledTotal"],
                    "throughput_per_second": round(sent / seconds, 3),
                    "throughput_vs_limit": round(sent / seconds / rate, 3),
                },
                indent=2,
            )
        )
    finally:
        if sim_proc is not None:
            sim_proc.terminate()
            sim_proc.wait(15)
        if server is not None:
            server.stop(mode="immediate")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--callers", type=int, default=20)
    parser.add_argument("--rate", type=float, default=3.0)
    parser.add_argument("--worker")
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(asyncio.run(worker(**json.loads(args.worker)))))  # noqa: T201
    else:
        asyncio.run(main(args.seconds, args.callers, args.rate))
