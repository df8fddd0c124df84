"""The HMRC evidence pack: JSON Lines, a summary of endpoints and fraud-header results
first, then every exchange of the VRN in the date range with its headers."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

from tests.audit.conftest import (
    FRAUD_HEADERS,
    AuditApi,
    Publish,
    TokenMint,
    hmrc_exchange,
    new_vrn,
)


async def test_evidence_pack_lists_exchanges_with_a_summary(
    audit: AuditApi, publish: Publish, mint: TokenMint
) -> None:
    tenant, vrn, other_vrn = str(uuid.uuid4()), new_vrn(), new_vrn()
    returns = "/organisations/vat/{vrn}/returns"
    missing_header = {
        "code": "MISSING_HEADER",
        "message": "absent",
        "headers": ["Gov-Client-Screens"],
    }
    await publish("audit.hmrc.exchange", hmrc_exchange(tenant, vrn))
    await publish("audit.hmrc.exchange", hmrc_exchange(tenant, vrn, status=429, fraud="valid"))
    await publish(
        "audit.hmrc.exchange",
        hmrc_exchange(
            tenant,
            vrn,
            method="POST",
            endpoint=returns,
            status=201,
            fraud="invalid",
            errors=[missing_header],
        ),
    )
    await publish(
        "audit.hmrc.exchange",
        hmrc_exchange(
            tenant,
            vrn,
            endpoint="/organisations/vat/{vrn}/liabilities",
            fraud="valid_with_warnings",
            warnings=["Gov-Client-Timezone looks odd"],
        ),
    )
    # Outside the range, another VRN, another kind: not in the pack.
    await publish(
        "audit.hmrc.exchange",
        hmrc_exchange(tenant, vrn, occurred_at=datetime.now(UTC) - timedelta(days=10)),
    )
    await publish("audit.hmrc.exchange", hmrc_exchange(tenant, other_vrn))
    await audit.wait_for_records(6)

    today = datetime.now(UTC).date()
    r = await audit.http.get(
        "/v1/audit/evidence",
        headers=mint.headers(["auditor"], tenant),
        params={
            "vrn": vrn,
            "from": (today - timedelta(days=1)).isoformat(),
            "to": today.isoformat(),
        },
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/jsonl")
    assert "attachment" in r.headers["content-disposition"]
    summary, *exchanges = [json.loads(line) for line in r.text.splitlines()]

    assert summary["type"] == "summary" and summary["exchanges"] == 4 == len(exchanges)
    covered = {(e["method"], e["endpoint"]): e for e in summary["endpoints_covered"]}
    assert covered[("GET", "/organisations/vat/{vrn}/obligations")]["statuses"] == {
        "200": 1,
        "429": 1,
    }
    assert covered[("POST", returns)]["exchanges"] == 1
    not_covered = {(e["method"], e["endpoint"]) for e in summary["endpoints_not_covered"]}
    assert ("GET", "/organisations/vat/{vrn}/payments") in not_covered
    assert ("POST", returns) not in not_covered
    fraud = summary["fraud_headers"]
    assert (fraud["valid"], fraud["invalid"], fraud["valid_with_warnings"]) == (2, 1, 1)
    assert fraud["error_codes"] == {"MISSING_HEADER": 1}
    assert fraud["warning_codes"] == {"UNSPECIFIED": 1}

    assert all(e["type"] == "exchange" and e["vrn"] == vrn for e in exchanges)
    assert [e["seq"] for e in exchanges] == sorted(e["seq"] for e in exchanges)
    post = next(e for e in exchanges if e["method"] == "POST")
    for name, value in FRAUD_HEADERS.items():
        assert post["request_headers"][name] == value
    assert post["request_headers"]["Authorization"] == "***"
    assert post["fraud_validation"]["result"] == "invalid"
    assert post["request_body"]["vatDueSales"] == "105.50"
    assert post["response_body"] == {"formBundleNumber": "256660290587"}
    assert post["correlation_id"] and post["headers_state"] == "available"
