"""The whole journey on the HMRC sandbox, each step printed with its result: what `make demo`
runs and what a new integrator can read as a script of the API.

tenant → API client → sandbox taxpayer → HMRC connection → obligations → webhook →
return (sent twice with one Idempotency-Key: one return) → status until final → receipt →
the signed webhook delivery → audit evidence.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from services.cli import output, returns
from services.cli.api import ApiError, Platform
from services.submission.webhooks import signing


@dataclass
class Inbox:
    """A local HTTP endpoint standing in for the integrator's webhook receiver."""

    got: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    url: str = ""


@contextmanager
def receiver() -> Iterator[Inbox]:
    inbox = Inbox()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            inbox.got.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *_: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    inbox.url = f"http://127.0.0.1:{server.server_address[1]}/mtd-webhook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield inbox
    finally:
        server.shutdown()
        server.server_close()


def step(number: int, title: str) -> None:
    output.console.print(f"\n[bold cyan]{number:>2}. {title}[/bold cyan]")


def result(text: str) -> None:
    output.console.print(f"    [green]✓[/green] {text}")


def sample_return(period_key: str) -> dict[str, Any]:
    return {
        "periodKey": period_key,
        "vatDueSales": Decimal("1250.40"),
        "vatDueAcquisitions": Decimal("0.00"),
        "totalVatDue": Decimal("1250.40"),
        "vatReclaimedCurrPeriod": Decimal("312.15"),
        "netVatDue": Decimal("938.25"),
        "totalValueSalesExVAT": Decimal("6252"),
        "totalValuePurchasesExVAT": Decimal("1561"),
        "totalValueGoodsSuppliedExVAT": Decimal("0"),
        "totalAcquisitionsExVAT": Decimal("0"),
        "finalised": True,
    }


def run(platform: Platform) -> int:
    started = time.monotonic()
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")

    step(1, "Create a tenant (platform admin)")
    tenant = platform.create_tenant(f"Demo bookkeeping {stamp}-{uuid.uuid4().hex[:4]}")
    result(f"tenant {tenant['name']}: {tenant['id']}")

    step(2, "Create the tenant's API client (roles submitter, auditor)")
    made = platform.create_client(tenant["id"], "demo integration", ["submitter", "auditor"])
    platform.with_client(made["client_id"], made["client_secret"])
    result(f"client {made['client_id']}, secret {output.secret(made['client_secret'], show=False)}")

    step(3, "Create a taxpayer at HMRC's sandbox")
    taxpayer = platform.sandbox_user()
    vrn = str(taxpayer["vrn"])
    result(f"test organisation {taxpayer['userId']} with VRN {vrn}")

    step(4, "Connect the VRN: the taxpayer grants access on HMRC's consent page")
    started_at = platform.start_connection(vrn)
    result(f"consent page: {started_at['authorize_url'].split('?')[0]} (state, PKCE)")
    connection = platform.sandbox_consent(
        started_at["authorize_url"], taxpayer["userId"], taxpayer["password"]
    )
    result(
        f"connection {connection['id']} is {connection['status']}, "
        f"until {connection['grant_expires_at']}"
    )

    step(5, "Read the open obligations")
    found = platform.obligations(vrn, {"status": "O"})
    open_periods = found["obligations"]
    first = open_periods[0]
    result(
        f"{len(open_periods)} open; earliest {first['periodKey']} "
        f"({first['start']} to {first['end']}, due {first['due']})"
    )

    with receiver() as inbox:
        step(6, "Register a webhook for accepted and rejected returns")
        secret: str | None = None
        try:
            hook = platform.add_webhook(inbox.url)
            secret = hook["secret"]
            result(f"webhook {hook['id']} → {hook['url']} (secret shown once, kept by the client)")
        except ApiError as exc:
            if exc.code != "WEBHOOKS_NOT_CONFIGURED":
                raise
            result("skipped: this stack has no SUBMISSION_WEBHOOK_KEYS")

        step(7, f"Submit the return for {first['periodKey']} with an Idempotency-Key")
        body = returns.validate(sample_return(first["periodKey"]))
        key = str(uuid.uuid4())
        accepted = platform.submit(vrn, returns.to_json(body), key)
        again = platform.submit(vrn, returns.to_json(body), key)
        result(f"202 {accepted['status']}: return {accepted['id']}")
        result(f"sent again with the same key: the same return ({again['id'] == accepted['id']})")

        step(8, "Poll its status until HMRC has answered")
        seen: list[str] = []

        def note(current: dict[str, Any]) -> None:
            if not seen or seen[-1] != current["status"]:
                seen.append(current["status"])

        final = platform.wait(vrn, accepted["id"], timeout=120, every=0.5, seen=note)
        result(" → ".join(seen))
        if final["status"] != "accepted":
            output.errors.print(f"the return ended {final['status']}: {final.get('error')}")
            return 1

        step(9, "Read the receipt")
        receipt = final["receipt"]
        result(
            f"form bundle {receipt.get('formBundleNumber')}, processed "
            f"{receipt.get('processingDate')}, charge ref {receipt.get('chargeRefNumber', '-')}"
        )

        step(10, "Receive the signed webhook")
        if secret is None:
            result("skipped (no webhook)")
        else:
            deadline = time.monotonic() + 30
            while not inbox.got and time.monotonic() < deadline:
                time.sleep(0.2)
            if not inbox.got:
                output.errors.print("no webhook delivery arrived within 30 s")
                return 1
            headers, raw = inbox.got[0]
            valid = signing.verify(secret, headers.get("mtd-signature", ""), raw)
            event = json.loads(raw)
            result(f"{event['type']} for return {event['data']['submissionId']}")
            result(f"signature {'verifies' if valid else 'DOES NOT verify'} (HMAC-SHA256)")
            if not valid:
                return 1

    step(11, "Export the audit evidence of the HMRC exchanges")
    lines: list[bytes] = []
    deadline = time.monotonic() + 30
    today = datetime.now(UTC).date().isoformat()
    while time.monotonic() < deadline:
        lines = b"".join(platform.evidence(today, today, vrn)).splitlines()
        if len(lines) > 1:  # a summary line, then one line per exchange
            break
        time.sleep(0.5)
    result(f"{max(len(lines) - 1, 0)} HMRC exchanges for VRN {vrn} in the evidence export")

    output.console.print(
        f"\n[bold green]Journey complete[/bold green] in {time.monotonic() - started:.1f} s: "
        f"VRN {vrn}, return {accepted['id']} accepted."
    )
    return 0
