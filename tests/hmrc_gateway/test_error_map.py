"""Every code in HMRC's error catalogue and platform error list maps to a platform code,
with HMRC 4xx kept as 4xx, a message and advice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from services.common import hmrc_error_map as error_map
from services.hmrc_gateway.retry import delay_before_retry, parse_retry_after


def test_every_catalogued_code_is_mapped() -> None:
    codes = error_map.catalogue_codes()
    assert len(codes) > 40
    for code, status in codes:
        assert (code, status) in error_map.MAPPINGS or code in error_map.MAPPINGS, code
        mapped = error_map.map_error(status, {"code": code, "message": "m"})
        assert mapped.code and mapped.message and mapped.action
        if 400 <= status < 500:
            assert 400 <= mapped.status < 500, (code, status, mapped.status)
        else:
            assert mapped.status >= 500


def test_envelopes_statuscode_bodies_and_empty_404() -> None:
    duplicate = {
        "code": "BUSINESS_ERROR",
        "message": "Business validation error",
        "errors": [{"code": "DUPLICATE_SUBMISSION", "message": "already"}],
    }
    assert error_map.map_error(403, duplicate).code == "DUPLICATE_SUBMISSION"
    assert error_map.map_error(400, {"statusCode": 400, "message": "INVALID_DATE_FROM"}).code == (
        "INVALID_DATE_FROM"
    )
    assert error_map.map_error(404, None, empty_404="RETURN_NOT_FOUND").code == "RETURN_NOT_FOUND"
    unknown = error_map.map_error(418, {"code": "SOMETHING_NEW"})
    assert unknown.status == 418


def test_retry_after_is_a_floor() -> None:
    assert parse_retry_after("3") == 3.0
    later = datetime.now(UTC) + timedelta(seconds=10)
    assert 8 < (parse_retry_after(format_datetime(later, usegmt=True)) or 0) <= 10
    assert parse_retry_after("soon") is None
    for attempt in range(1, 6):
        assert delay_before_retry(attempt, 0.1, 1.0, 2.5) >= 2.5
        assert 0 <= delay_before_retry(attempt, 0.1, 1.0, None) <= 1.0
