"""Key rotation under load, without a failed request.

    .venv/bin/python -m services.auth.bench [--seconds 120] [--rate 20] [--replicas 2]

Starts durable PostgreSQL and NATS (embedded, in a temporary directory) and `--replicas`
auth processes (`python -m services.auth`) that read their secrets from one mounted
directory (MTD_SECRETS_DIR, as from a Kubernetes Secret) and reload them every second.
It then drives a steady `--rate` of requests, round-robin over the replicas: client-
credential token issuance, token verification (`/v1/auth/me`, tokens of every age), reads
of sealed personal data (the users list) and writes of it (new users). Mid-run it rotates,
as an operator would, by replacing files in the secrets directory:

  20%  stage: KEK k2 joins the ring (decrypt only); the next signing key is published
  35%  switch: k2 wraps new values; the next signing key signs, the old one only verifies;
       the load's API client secret is rotated (the load keeps the old one until 50%)
  45%  `keys retire k1` (must refuse), `keys rewrap` online, `keys retire k1` (must pass)
  60%  k1 leaves the ring: everything sealed must still open

and prints requests, failures (must be 0), tokens by kid, values re-wrapped and anything
unreadable. Exit status 1 when any request failed or any value is unreadable.
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
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt

from services.auth.signing import generate_pem, load_signing_key
from services.common import migrations
from services.common.database import with_database
from services.common.envelope import new_keyring_entry
from services.stack.embedded import EmbeddedNats, EmbeddedPostgres, free_port

ADMIN_ID = "bench-admin"


@dataclass
class Tally:
    requests: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    tokens_by_kid: Counter[str] = field(default_factory=Counter)
    tokens: list[tuple[float, str]] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)


class SecretsDir:
    """The mounted Secret: each key a file, replaced atomically as the kubelet does."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(mode=0o700)

    def write(self, **values: str) -> None:
        for name, value in values.items():
            tmp = self.path / f".{name}.tmp"
            tmp.write_text(value)
            tmp.chmod(0o600)
            tmp.replace(self.path / name)


def _env(secrets_dir: Path, nats_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTH_", "MTD_"))}
    return env | {
        "MTD_SECRETS_DIR": str(secrets_dir),
        "AUTH_ENVIRONMENT": "test",
        "AUTH_LOG_LEVEL": "WARNING",
        "AUTH_NATS_URL": nats_url,
        "AUTH_HMRC_BASE_URL": "http://127.0.0.1:9",
        "AUTH_HMRC_CLIENT_ID": "bench-app",
        "AUTH_BOOTSTRAP_CLIENT_ID": ADMIN_ID,
        "AUTH_BOOTSTRAP_OUTSIDE_DEVELOPMENT": "true",
        "AUTH_KEY_RELOAD_SECONDS": "1",
        "AUTH_ACCESS_TOKEN_TTL_SECONDS": "300",
        # Cheap password hashing: the bench measures rotation, not argon2.
        "AUTH_ARGON2_TIME_COST": "1",
        "AUTH_ARGON2_MEMORY_COST_KIB": "1024",
        # Every request comes from one address; the per-client limit is not under test.
        "AUTH_CLIENT_RATE_PER_SECOND": "10000",
        "AUTH_CLIENT_RATE_BURST": "10000",
        "PYTHONUNBUFFERED": "1",
    }


def keys_command(env: dict[str, str], *args: str) -> tuple[int, str]:
    done = subprocess.run(  # noqa: S603 - our own module, fixed arguments
        [sys.executable, "-m", "services.auth", "keys", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return done.returncode, (done.stdout + done.stderr).strip()


def start_replica(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "services.auth"],
            env=env | {"AUTH_PORT": str(port)},
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def wait_ready(url: str, proc: subprocess.Popen[bytes]) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=5) as http, asyncio.timeout(60):
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"auth at {url} exited with {proc.returncode}")
            try:
                if (await http.get("/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)


class Load:
    def __init__(self, urls: list[str], admin_secret: str, tally: Tally) -> None:
        self.urls = urls
        self.admin_secret = admin_secret
        self.tally = tally
        self.http = httpx.AsyncClient(timeout=10)
        self.n = 0
        self.tenant = ""
        self.client: tuple[str, str] = ("", "")

    def url(self) -> str:
        self.n += 1
        return self.urls[self.n % len(self.urls)]

    async def token(self, client_id: str, secret: str) -> str:
        r = await self.http.post(
            self.url() + "/v1/auth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": client_id,
                "client_secret": secret,
            },
        )
        r.raise_for_status()
        token = str(r.json()["access_token"])
        self.tally.tokens_by_kid[jwt.get_unverified_header(token)["kid"]] += 1
        self.tally.tokens.append((time.monotonic(), token))
        return token

    async def admin(self) -> dict[str, str]:
        return {"Authorization": "Bearer " + await self.token(ADMIN_ID, self.admin_secret)}

    async def setup(self, users: int) -> None:
        headers = await self.admin()
        r = await self.http.post(
            self.url() + "/v1/tenants",
            json={"name": "bench-" + secrets.token_hex(4)},
            headers=headers,
        )
        r.raise_for_status()
        self.tenant = r.json()["id"]
        r = await self.http.post(
            self.url() + f"/v1/tenants/{self.tenant}/clients",
            json={"name": "bench viewer", "roles": ["tenant_admin"]},
            headers=headers,
        )
        r.raise_for_status()
        self.client = (r.json()["client_id"], r.json()["client_secret"])
        for _ in range(users):
            await self.create_user()

    async def rotate_client_secret(self) -> str:
        r = await self.http.post(
            self.url() + f"/v1/tenants/{self.tenant}/clients/{self.client[0]}/secret",
            headers=await self.admin(),
        )
        r.raise_for_status()
        return str(r.json()["client_secret"])

    async def create_user(self) -> None:
        headers = {"Authorization": "Bearer " + self.recent_token()}
        r = await self.http.post(
            self.url() + f"/v1/tenants/{self.tenant}/users",
            json={
                "email": f"person-{secrets.token_hex(5)}@example.com",
                "name": "Bench Person",
                "roles": ["viewer"],
                "password": secrets.token_urlsafe(18),
            },
            headers=headers,
        )
        r.raise_for_status()

    def recent_token(self, oldest: float = 240.0) -> str:
        """A token still well inside its lifetime, picked from every age (so tokens
        signed by the old key are verified after the switch)."""
        now = time.monotonic()
        live = [t for at, t in self.tally.tokens if now - at < oldest]
        return live[self.n * 7919 % len(live)]

    async def verify(self) -> None:
        r = await self.http.get(
            self.url() + "/v1/auth/me", headers={"Authorization": "Bearer " + self.recent_token()}
        )
        r.raise_for_status()

    async def read_sealed(self) -> None:
        r = await self.http.get(
            self.url() + f"/v1/tenants/{self.tenant}/users",
            headers={"Authorization": "Bearer " + self.recent_token()},
        )
        r.raise_for_status()
        if not all("@" in u["email"] and u["name"] for u in r.json()):
            raise ValueError("a sealed e-mail or name did not open")

    async def one(self, kind: str) -> None:
        started = time.monotonic()
        self.tally.requests[kind] += 1
        try:
            if kind == "issue":
                await self.token(*self.client)
            elif kind == "verify":
                await self.verify()
            elif kind == "read_sealed":
                await self.read_sealed()
            else:
                await self.create_user()
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            detail = exc.response.text[:200] if isinstance(exc, httpx.HTTPStatusError) else ""
            self.tally.failures.append(f"{kind}: {exc!r} {detail}")
        self.tally.latencies.append(time.monotonic() - started)


KINDS = ("issue", "verify", "read_sealed", "verify", "issue", "read_sealed", "verify", "write")


async def drive(load: Load, seconds: float, rate: float) -> None:
    start = time.monotonic()
    pending: set[asyncio.Task[None]] = set()
    i = 0
    while (elapsed := time.monotonic() - start) < seconds:
        task = asyncio.create_task(load.one(KINDS[i % len(KINDS)]))
        pending.add(task)
        task.add_done_callback(pending.discard)
        i += 1
        await asyncio.sleep(max(0.0, i / rate - elapsed))
    await asyncio.gather(*pending)


async def rotate(
    seconds: float,
    sdir: SecretsDir,
    env: dict[str, str],
    keys: dict[str, str],
    load: Load,
    log: list[str],
) -> dict[str, Any]:
    start = time.monotonic()

    async def at(fraction: float) -> None:
        await asyncio.sleep(max(0.0, start + seconds * fraction - time.monotonic()))

    def note(line: str) -> None:
        log.append(f"{time.monotonic() - start:6.1f}s  {line}")

    await at(0.20)
    sdir.write(
        AUTH_ENCRYPTION_KEYS=f"{keys['k1']},{keys['k2']}",
        AUTH_ENCRYPTION_KEY_CURRENT="k1",
        AUTH_NEXT_SIGNING_KEY=keys["new_pem"],
    )
    note("staged KEK k2 (decrypt only) and published the next signing key")
    await at(0.35)
    sdir.write(
        AUTH_ENCRYPTION_KEY_CURRENT="k2",
        AUTH_SIGNING_KEY=keys["new_pem"],
        AUTH_PREVIOUS_SIGNING_KEY=keys["old_pem"],
        AUTH_NEXT_SIGNING_KEY="",
    )
    note("KEK k2 wraps new values; the new signing key signs, the old one verifies")
    new_secret = await load.rotate_client_secret()
    note("API client secret rotated; callers still use the old one (grace period)")
    await at(0.45)
    refused, text = await asyncio.to_thread(keys_command, env, "retire", "k1")
    note(f"keys retire k1 before re-wrap: exit {refused} ({text.splitlines()[-1]})")
    code, text = await asyncio.to_thread(keys_command, env, "rewrap", "--batch", "50")
    rewrap = json.loads(text.splitlines()[-1]) if code in (0, 1) else {"error": text}
    note(f"keys rewrap: exit {code} {rewrap}")
    retired, text = await asyncio.to_thread(keys_command, env, "retire", "k1")
    note(f"keys retire k1 after re-wrap: exit {retired} ({text.splitlines()[-1]})")
    await at(0.50)
    load.client = (load.client[0], new_secret)
    note("callers switched to the new client secret")
    await at(0.60)
    if retired == 0:
        sdir.write(AUTH_ENCRYPTION_KEYS=keys["k2"], AUTH_ENCRYPTION_KEY_CURRENT="")
        note("k1 removed from the keyring")
    return {"refused_before": refused != 0, "rewrap": rewrap, "retired": retired == 0}


async def main(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="auth-bench-") as tmp:
        pg = EmbeddedPostgres(Path(tmp) / "pg", free_port(), durable=True)
        nats = EmbeddedNats(Path(tmp) / "nats", free_port(), free_port())
        pg.start()
        nats.start()
        procs: list[subprocess.Popen[bytes]] = []
        try:
            await migrations.ensure_database(pg.url, "mtd_auth")
            db_url = with_database(pg.url, "mtd_auth")
            await asyncio.to_thread(migrations.upgrade, "auth", db_url)
            keys = {
                "k1": new_keyring_entry("k1"),
                "k2": new_keyring_entry("k2"),
                "old_pem": generate_pem(),
                "new_pem": generate_pem(),
            }
            admin_secret = secrets.token_urlsafe(24)
            sdir = SecretsDir(Path(tmp) / "secrets")
            sdir.write(
                AUTH_DATABASE_URL=db_url,
                AUTH_SIGNING_KEY=keys["old_pem"],
                AUTH_ENCRYPTION_KEYS=keys["k1"],
                AUTH_USER_ID_SALTS="s1:" + secrets.token_urlsafe(24),
                AUTH_HMRC_CLIENT_SECRET=secrets.token_urlsafe(24),
                AUTH_BOOTSTRAP_CLIENT_SECRET=admin_secret,
            )
            env = _env(sdir.path, nats.url)
            urls = []
            for _ in range(args.replicas):
                port = free_port()
                procs.append(start_replica(env, port, Path(tmp) / f"auth-{port}.log"))
                urls.append(f"http://127.0.0.1:{port}")
            for url, proc in zip(urls, procs, strict=True):
                await wait_ready(url, proc)

            tally, log = Tally(), list[str]()
            load = Load(urls, admin_secret, tally)
            await load.setup(args.users)
            print(
                f"auth replicas: {len(urls)}; {args.users} users sealed under k1; driving "
                f"{args.rate}/s for {args.seconds:.0f}s",
                flush=True,
            )
            _, rotation = await asyncio.gather(
                drive(load, args.seconds, args.rate),
                rotate(args.seconds, sdir, env, keys, load, log),
            )
            await load.http.aclose()
            _, status = await asyncio.to_thread(keys_command, env, "status")
            columns = json.loads(status.splitlines()[-1])["columns"]
            remaining = {col: kids for col, kids in columns.items() if set(kids) - {"k2"}}
            for line in log:
                print(line)
            print_summary(tally, rotation, columns, remaining, keys)
            unreadable = rotation["rewrap"].get("unreadable", ["rewrap failed"])
            ok = not tally.failures and not unreadable and rotation["retired"] and not remaining
            return 0 if ok and rotation["refused_before"] else 1
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(15)
            nats.stop()
            pg.stop(mode="immediate")


def print_summary(
    tally: Tally,
    rotation: dict[str, Any],
    columns: dict[str, dict[str, int]],
    remaining: dict[str, dict[str, int]],
    keys: dict[str, str],
) -> None:
    names = {
        load_signing_key(keys["old_pem"]).kid: "old",
        load_signing_key(keys["new_pem"]).kid: "new",
    }
    lat = sorted(tally.latencies)

    def p(q: float) -> float:
        return lat[min(len(lat) - 1, int(q * len(lat)))] * 1000

    print(f"requests: {sum(tally.requests.values())} {dict(tally.requests)}")
    print(f"failures: {len(tally.failures)}")
    for failure in tally.failures[:10]:
        print(f"  {failure}")
    by_kid = {f"{names.get(k, '?')} {k[:10]}…": n for k, n in tally.tokens_by_kid.items()}
    print(f"tokens by kid: {by_kid}")
    print(f"latency ms: p50 {p(0.5):.1f}  p95 {p(0.95):.1f}  p99 {p(0.99):.1f}  max {p(1):.1f}")
    rewrap = rotation["rewrap"]
    print(f"values re-wrapped: {rewrap.get('rewrapped')}  unreadable: {rewrap.get('unreadable')}")
    print(f"sealed values per KEK at the end: {columns}")
    print(f"still under a retired KEK: {remaining or 'none'}")
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")


def cli() -> None:
    parser = argparse.ArgumentParser(prog="python -m services.auth.bench", description=__doc__)
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--users", type=int, default=20)
    raise SystemExit(asyncio.run(main(parser.parse_args())))


if __name__ == "__main__":
    cli()
