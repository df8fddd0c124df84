"""A small, steady background submission load against the local stack.

It connects VRNs and posts one return per open obligation at a fixed rate, the way an API
client would, using the helpers of loadtests/submission_bench.py. A POST that gets no
definite answer (transport error, 5xx) is retried later with the same Idempotency-Key, so
a retry can never file twice; every return answered 202 is remembered for the loss check.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import uuid
from collections import deque
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx

from loadtests.provision import Provisioner, Tenant, bearer, client_token
from loadtests.submission_bench import DEVICE, RETURN_BODY

T = TypeVar("T")


@dataclass
class Posted:
    tenant: Tenant
    vrn: str
    period_key: str
    key: str
    first_at: float
    submission_id: str | None = None
    answer: int | None = None
    final: str | None = None


@dataclass
class Outcome:
    at: float
    ok: bool
    detail: str


@dataclass
class Tally:
    accepted: int = 0
    refused: int = 0
    retried: int = 0
    skipped: int = 0  # nothing left to post
    refusals: dict[str, int] = field(default_factory=dict)


class Load:
    def __init__(self, env: dict[str, str], rate: float) -> None:
        self.env = env
        self.rate = rate
        self.pool: deque[tuple[Tenant, str, str]] = deque()
        self.retry: deque[Posted] = deque()
        self.posted: dict[str, Posted] = {}
        self.outcomes: deque[Outcome] = deque(maxlen=1000)
        self.tally = Tally()
        self._tenants: list[Tenant] = []
        self._provisioner: Provisioner | None = None
        self._refresher: asyncio.Task[None] | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._posting: asyncio.Task[None] | None = None
        self._http: httpx.AsyncClient | None = None
        self._lock = threading.Lock()

    # -- the load's own event loop, in a thread ---------------------------------------------
    def _call(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def open(self) -> None:
        self._thread.start()
        self._call(self._setup())

    def close(self) -> None:
        self.pause()
        if self._refresher is not None:
            self._loop.call_soon_threadsafe(self._refresher.cancel)
        if self._http is not None:
            self._call(self._http.aclose())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def start(self) -> None:
        self._call(self._start())

    def pause(self) -> None:
        self._call(self._pause())

    def answer_retries(self, timeout: float) -> None:
        """With posting paused: send every unanswered POST again until it has an answer."""
        self._call(self._answer_retries(timeout))

    def ensure_pool(self, size: int) -> None:
        """Connect VRNs until `size` open periods wait to be posted (call while steady)."""
        self._call(self._ensure_pool(size))

    # -- setup --------------------------------------------------------------------------------
    async def _setup(self) -> None:
        self._http = httpx.AsyncClient(timeout=20)
        self._provisioner = Provisioner(self._http, self.env)
        self._refresher = asyncio.create_task(self._keep_tokens_fresh())

    async def _keep_tokens_fresh(self, every: float = 300.0) -> None:
        """Tokens live 15 minutes; a full run of the drills lasts longer."""
        while True:
            await asyncio.sleep(every)
            for tenant in list(self._tenants):
                with contextlib.suppress(httpx.HTTPError):  # auth may be the drill's target
                    await self._refresh_token(tenant)

    @property
    def token(self) -> str:
        """A token of the load's first tenant (for status reads)."""
        return self._tenants[0].token if self._tenants else ""

    async def _refresh_token(self, tenant: Tenant) -> None:
        assert self._http is not None
        tenant.token = await client_token(
            self._http, self.env["AUTH_URL"], tenant.client_id, tenant.client_secret
        )

    async def _ensure_pool(self, size: int) -> None:
        """Each top-up is a new tenant whose VRNs are all connected before its first read:
        the obligations service caches a caller's connections for a while."""
        assert self._provisioner is not None
        if len(self.pool) >= size:
            return
        # Only ended periods (HMRC refuses a return for a period still running): their
        # returns are due before the 7th of the month after next.
        first = datetime.now(UTC).date().replace(day=1)
        running_due = (first + timedelta(days=62)).replace(day=7)
        tenant = await self._provisioner.tenant("drill-load")
        self._tenants.append(tenant)
        wanted = size - len(self.pool)
        vrns = [await self._provisioner.connect_vrn(tenant) for _ in range(wanted // 4 + 1)]
        for vrn in vrns:
            found = await self._provisioner.open_obligations(tenant, vrn, DEVICE)
            self.pool.extend((tenant, o.vrn, o.period_key) for o in found if o.due < running_due)

    # -- posting ------------------------------------------------------------------------------
    async def _start(self) -> None:
        if self._posting is None:
            self._posting = asyncio.create_task(self._post_forever())

    async def _pause(self) -> None:
        task, self._posting = self._posting, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _post_forever(self) -> None:
        tasks: set[asyncio.Task[None]] = set()
        started = time.monotonic()
        n = 0
        try:
            while True:
                n += 1
                await asyncio.sleep(max(0.0, started + n / self.rate - time.monotonic()))
                item = self._next()
                if item is None:
                    self.tally.skipped += 1
                    self._record(False, "pool empty")
                    continue
                task = asyncio.create_task(self._post(item))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def _next(self) -> Posted | None:
        if self.retry:
            return self.retry.popleft()
        if not self.pool:
            return None
        tenant, vrn, period_key = self.pool.popleft()
        return Posted(tenant, vrn, period_key, uuid.uuid4().hex, time.monotonic())

    def _record(self, ok: bool, detail: str) -> None:
        with self._lock:
            self.outcomes.append(Outcome(time.monotonic(), ok, detail))

    async def _post(self, item: Posted) -> None:
        assert self._http is not None
        try:
            r = await self._http.post(
                f"{self.env['SUBMISSION_URL']}/v1/vat/{item.vrn}/returns",
                content=RETURN_BODY.format(pk=item.period_key),
                headers={
                    **bearer(item.tenant.token),
                    **DEVICE,
                    "Idempotency-Key": item.key,
                    "content-type": "application/json",
                },
                timeout=10,
            )
        except httpx.HTTPError as exc:
            self._again(item, type(exc).__name__)
            return
        except asyncio.CancelledError:
            # Paused mid-request: the server may have filed it, so it still needs an answer.
            self.retry.append(item)
            raise
        if r.status_code == 202:
            item.answer, item.submission_id = 202, r.json()["id"]
            self.posted[item.key] = item
            self.tally.accepted += 1
            self._record(True, "202")
        elif r.status_code == 401:
            await self._refresh_token(item.tenant)
            self._again(item, "401")
        elif r.status_code >= 500:
            self._again(item, str(r.status_code))
        else:
            # A definite refusal: the client was told, nothing was filed.
            code = f"{r.status_code} {r.json().get('code', '') if r.content else ''}".strip()
            item.answer = r.status_code
            self.tally.refused += 1
            self.tally.refusals[code] = self.tally.refusals.get(code, 0) + 1
            self._record(False, code)

    async def _answer_retries(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.retry and time.monotonic() < deadline:
            await self._post(self.retry.popleft())
            await asyncio.sleep(0.2)

    def _again(self, item: Posted, detail: str) -> None:
        self.tally.retried += 1
        self.retry.append(item)
        self._record(False, detail)

    # -- what the probes read -----------------------------------------------------------------
    def recent(self, window: float) -> list[Outcome]:
        since = time.monotonic() - window
        with self._lock:
            return [o for o in self.outcomes if o.at >= since]

    def unanswered(self) -> int:
        """POSTs still waiting for a definite answer (retried with the same key)."""
        return len(self.retry)
