"""`mtdvat` against a real local stack, as an operator runs it: credentials, a sandbox
connection, obligations, a bridging CSV return to HMRC's receipt, evidence, webhooks, and
refusals printed readably with secrets masked. Plus the CSV import's own rules."""

from __future__ import annotations

import json
import re
import stat
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from services.cli import returns
from services.common import jsonutil
from tests.integrator.conftest import LocalStack

CSV = """box,value
periodKey,{period}
1,1250.40
2,0.00
3,1250.40
4,312.15
5,938.25
box6,6252
totalValuePurchasesExVAT,1561
8,0
9,0
"""


def test_csv_boxes_become_hmrc_fields_with_exact_amounts(tmp_path: Path) -> None:
    path = tmp_path / "q1.csv"
    path.write_text(CSV.format(period="27A1"))
    body = returns.load(path, period_key=None, finalised=True)
    assert body["vatDueSales"] == Decimal("1250.40")
    assert body["totalValueSalesExVAT"] == Decimal("6252")
    assert body["totalValuePurchasesExVAT"] == Decimal("1561")
    assert body["finalised"] is True
    # Written as JSON numbers, digit for digit, and read back the same.
    text = returns.to_json(body)
    assert '"vatDueSales": 1250.40' in text
    assert jsonutil.loads(text) == body


def test_csv_is_checked_with_the_platforms_rules(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(CSV.format(period="27A1").replace("3,1250.40", "3,999.99"))
    with pytest.raises(returns.ReturnError) as wrong:
        returns.load(path, period_key=None, finalised=True)
    assert {e["code"] for e in wrong.value.errors} >= {"VAT_TOTAL_VALUE"}
    path.write_text(CSV.format(period="27A1"))
    with pytest.raises(returns.ReturnError, match="NOT_FINALISED"):
        returns.load(path, period_key=None, finalised=False)
    for broken, message in (
        ("1,12.345\n", "INVALID_REQUEST"),
        ("1,twelve\n", "not an amount"),
        ("10,1\n", "unknown box"),
        ("1,1\n1,2\n", "appears twice"),
    ):
        path.write_text(broken)
        with pytest.raises(returns.ReturnError, match=message):
            returns.load(path, period_key="27A1", finalised=True)


def mtdvat(
    stack: LocalStack, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args],
        env=stack.process_env(COLUMNS="200", **(env or {})),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_cli_from_credentials_to_receipt(local_stack: LocalStack, tmp_path: Path) -> None:
    r = mtdvat(local_stack, "tenant", "create", f"cli-{tmp_path.name}")
    assert r.returncode == 0, r.stderr
    tenant = r.stdout.split()[-1]

    env_file = tmp_path / "client.env"
    r = mtdvat(local_stack, "client", "create", tenant, "--env-file", str(env_file))
    assert r.returncode == 0, r.stderr
    saved = dict(line.split("=", 1) for line in env_file.read_text().splitlines())
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert saved["MTD_CLIENT_SECRET"] not in r.stdout  # masked on screen
    assert "***" in r.stdout
    client = dict(saved)

    r = mtdvat(local_stack, "connect", "--sandbox-user", "new", env=client)
    assert r.returncode == 0, r.stdout + r.stderr
    vrn = re.search(r"VRN (\d{9}) connected: active", r.stdout)
    assert vrn, r.stdout
    vrn_text = vrn.group(1)

    r = mtdvat(local_stack, "obligations", vrn_text, env=client)
    assert r.returncode == 0, r.stderr
    period = re.search(r"│ (\w{4})\s+│", r.stdout)
    assert period, r.stdout

    wrong = tmp_path / "wrong.csv"
    wrong.write_text(CSV.format(period=period.group(1)).replace("5,938.25", "5,1.00"))
    r = mtdvat(local_stack, "submit", vrn_text, str(wrong), "--finalised", env=client)
    assert r.returncode == 1 and "VAT_NET_VALUE" in r.stderr, r.stdout + r.stderr

    good = tmp_path / "q.csv"
    good.write_text(CSV.format(period=period.group(1)))
    r = mtdvat(local_stack, "submit", vrn_text, str(good), "--finalised", env=client)
    assert r.returncode == 0, r.stdout + r.stderr
    assert re.search(r"accepted by HMRC: form bundle \d{12}", r.stdout), r.stdout
    submission = re.search(r"return ([0-9a-f-]{36})", r.stdout)
    assert submission

    receipt = tmp_path / "receipt.json"
    r = mtdvat(
        local_stack, "receipt", vrn_text, submission.group(1), "-o", str(receipt), env=client
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(receipt.read_text())["receipt"]["formBundleNumber"]

    # The same file again is the same period: the platform says why, readably.
    r = mtdvat(local_stack, "submit", vrn_text, str(good), "--finalised", env=client)
    assert r.returncode == 1
    assert "409 RETURN_EXISTS_FOR_PERIOD" in r.stderr and "X-Request-ID" in r.stderr

    evidence = tmp_path / "evidence.jsonl"
    r = mtdvat(local_stack, "evidence", "-o", str(evidence), "--vrn", vrn_text, env=client)
    assert r.returncode == 0, r.stderr
    lines = [json.loads(line) for line in evidence.read_text().splitlines()]
    assert lines[0]["type"] == "summary" and len(lines) >= 2

    r = mtdvat(local_stack, "webhook", "add", "http://127.0.0.1:9/hooks", env=client)
    assert r.returncode == 0, r.stdout + r.stderr
    assert re.search(r"signing secret: whsec_\*\*\*|signing secret: \S+\*\*\*", r.stdout)
    r = mtdvat(local_stack, "webhook", "add", "ftp://example.com/x", env=client)
    assert r.returncode == 1 and "422 WEBHOOK_URL_INVALID" in r.stderr
    assert "What to do" in r.stderr

    r = mtdvat(local_stack, "obligations", "123456789", env=client)
    assert r.returncode == 1 and "404 VRN_NOT_CONNECTED" in r.stderr


def test_wrong_credentials_are_a_readable_refusal(local_stack: LocalStack) -> None:
    r = mtdvat(
        local_stack,
        "connections",
        env={"MTD_CLIENT_ID": "mtd_nobody", "MTD_CLIENT_SECRET": "not-the-secret"},
    )
    assert r.returncode == 1
    assert "401 INVALID_CLIENT" in r.stderr
    assert "not-the-secret" not in r.stdout + r.stderr
    assert "Traceback" not in r.stderr
