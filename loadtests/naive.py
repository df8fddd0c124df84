"""The comparison: the same returns at the same moments sent straight to HMRC by a naive
integration — `hmrclib` from PyPI, one synchronous call per return in a web worker thread,
with hmrclib's own retry policy (retries on 429 and 5xx, POSTs included) — against the same
simulator with the same rate limit, under an application of its own."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import parse_qs, urlsplit

from hmrclib import (  # type: ignore[import-untyped]
    HMRCClient,
    HMRCRateLimitError,
    OAuth2Client,
    Settings,
)
from hmrclib.errors import HMRCAPIError, HMRCError  # type: ignore[import-untyped]
from hmrclib.generated.clients import VatApiClient  # type: ignore[import-untyped]

from loadtests.provision import Provisioner, bounded
from loadtests.workload import Item, Profile

REDIRECT_URI = "http://127.0.0.1:9/naive-callback"


@dataclass(frozen=True)
class NaiveVrn:
    """The naive integration's own test user standing in for one platform VRN."""

    vrn: str
    vat: Any  # hmrclib's VatApiClient with the user's token


@dataclass
class NaiveResult:
    client_id: str
    sent: int
    # "<kind> <outcome>": accepted / rejected / throttled_out / failed, as it saw them
    outcomes: dict[str, int]
    valid_sent: int
    first_at: float
    last_at: float

    @property
    def seconds(self) -> float:
        return self.last_at - self.first_at


async def connect(
    setup: Provisioner, limit: float, calendars: dict[str, tuple[str, str]]
) -> tuple[str, dict[str, NaiveVrn]]:
    """An application of the naive integration's own at the same limit, and one test user
    per platform VRN with the same calendar (so the same period keys are open)."""
    cid, secret = await setup.new_application("naive integration", limit, [REDIRECT_URI])
    settings = Settings(
        base_url=setup.sim, client_id=cid, client_secret=secret, redirect_uri=REDIRECT_URI
    )

    async def one(stagger: str, start: str) -> NaiveVrn:
        user = await setup.test_user()
        body = {"stagger": stagger, "calendar_start": start}
        await setup.control("PUT", f"/vrns/{user['vrn']}/calendar", body)
        r = await setup.http.post(
            f"{setup.sim}/oauth/authorize",
            data={
                "response_type": "code",
                "client_id": cid,
                "scope": "read:vat write:vat",
                "state": "naive",
                "redirect_uri": REDIRECT_URI,
                "user_id": user["userId"],
                "password": user["password"],
                "decision": "grant",
            },
        )
        code = parse_qs(urlsplit(r.headers["location"]).query)["code"][0]
        oauth = OAuth2Client(settings=settings)
        await asyncio.to_thread(oauth.authorization_code, code)
        return NaiveVrn(str(user["vrn"]), VatApiClient(HMRCClient(settings=settings, oauth=oauth)))

    made = await bounded(8, [partial(one, *cal) for cal in calendars.values()])
    clients = dict(zip(calendars, made, strict=True))
    return cid, clients


def send_all(
    p: Profile,
    items: list[Item],
    times: list[float],
    clients: dict[str, NaiveVrn],
    client_id: str,
) -> NaiveResult:
    """Return n starts `times[n]` seconds in (when k6 sent its n-th); a thread per request
    in flight, as many as k6 had VUs."""
    logging.getLogger("hmrclib").setLevel(logging.ERROR)  # one retry warning per 429
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()
    ends: list[float] = []

    def one(item: Item) -> None:
        naive = clients[item.vrn]
        try:
            naive.vat.post_organisations_vat_returns(naive.vrn, body=json.loads(item.body))
            outcome = "accepted"
        except HMRCRateLimitError:
            outcome = "throttled_out"  # 429 after hmrclib's retries: the return is not filed
        except HMRCAPIError as error:
            outcome = "rejected" if 400 <= error.status_code < 500 else "failed"
        except HMRCError:
            outcome = "failed"
        with lock:
            outcomes[f"{item.kind} {outcome}"] += 1
            ends.append(time.time())

    first = time.time()
    with ThreadPoolExecutor(max_workers=p.max_vus) as pool:
        for at, item in zip(times, items, strict=False):
            time.sleep(max(0.0, first + at - time.time()))
            pool.submit(one, item)
    return NaiveResult(
        client_id=client_id,
        sent=len(items),
        outcomes=dict(outcomes),
        valid_sent=sum(1 for i in items if i.kind == "valid"),
        first_at=first,
        last_at=max(ends) if ends else first,
    )


def tally(
    result: NaiveResult,
    items: list[Item],
    clients: dict[str, VatApiClient],
    counters: dict[str, Any],
) -> dict[str, Any]:
    """The comparison row, from the simulator's counters for the naive integration's VRNs."""

    def seen(outcome: str) -> int:
        return sum(n for what, n in result.outcomes.items() if what.endswith(f" {outcome}"))

    stored = counters.get("returnsStored", {})
    duplicates = counters.get("duplicateSubmissions", {})
    naive_vrn = {vrn: naive.vrn for vrn, naive in clients.items()}
    valid = [(naive_vrn[i.vrn], i.period_key) for i in items if i.kind == "valid"]
    intended_duplicates = sum(1 for i in items if i.kind == "duplicate")
    stored_valid = sum(1 for vrn, pk in valid if stored.get(vrn, {}).get(pk, 0) >= 1)
    attempts = sum(
        sum(by_period.values())
        for vrn, by_period in duplicates.items()
        if vrn in naive_vrn.values()
    )
    return {
        "sent": result.sent,
        "accepted": seen("accepted"),
        "rejected": seen("rejected"),
        "errors": seen("failed"),  # 5xx or no answer after its retries
        "not_filed": len(valid) - stored_valid,
        "duplicated": max(0, attempts - intended_duplicates)
        + sum(1 for vrn, pk in valid if stored.get(vrn, {}).get(pk, 0) > 1),
        "throttled": int(counters.get("throttled", {}).get(result.client_id, 0)),
        "peak_per_second": int(counters.get("peakRequestsPerSecond", {}).get(result.client_id, 0)),
        "drain_seconds": result.seconds,
        "outcomes": result.outcomes,
    }
