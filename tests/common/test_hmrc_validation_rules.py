"""HMRC's VAT API request validation (services/common/hmrc_validation.py) rule by rule, at
the edges of every range and in HMRC's order, without any server: these are the fast tests
the mutation run (`make mutation`) relies on."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from services.common import hmrc_errors as E
from services.common import hmrc_validation as V
from services.common.hmrc_errors import HmrcError, Rejected


def refusal(check: Callable[..., Any], *args: Any) -> HmrcError:
    with pytest.raises(Rejected) as caught:
        check(*args)
    return caught.value.error


def body_of(error: HmrcError) -> dict[str, Any]:
    assert error.body is not None
    return error.body


def good_return(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "periodKey": "24A1",
        "vatDueSales": Decimal("100.10"),
        "vatDueAcquisitions": Decimal("0.00"),
        "totalVatDue": Decimal("100.10"),
        "vatReclaimedCurrPeriod": Decimal("40.00"),
        "netVatDue": Decimal("60.10"),
        "totalValueSalesExVAT": 500,
        "totalValuePurchasesExVAT": 200,
        "totalValueGoodsSuppliedExVAT": 0,
        "totalAcquisitionsExVAT": 0,
        "finalised": True,
    }
    body.update(changes)
    return body


def field_errors(body: Any) -> list[tuple[str, str]]:
    """(code, path) of each inner error of a refused return, in HMRC's order."""
    error = refusal(V.return_body, body)
    assert error.status == 400
    assert body_of(error)["code"] == "INVALID_REQUEST"
    return [(e["code"], e.get("path", "")) for e in body_of(error)["errors"]]


# -- VRN, period keys, dates ----------------------------------------------------------------


@pytest.mark.parametrize("vrn", ["123456789", "000000000"])
def test_nine_digits_is_a_vrn(vrn: str) -> None:
    V.vrn(vrn)


@pytest.mark.parametrize("vrn", ["12345678", "1234567890", "12345678a", "", " 123456789"])
def test_anything_else_is_not(vrn: str) -> None:
    assert refusal(V.vrn, vrn) == E.VRN_INVALID


@pytest.mark.parametrize("key", ["24A1", "#001", "A001", "18AD"])
def test_view_period_keys_accepted(key: str) -> None:
    V.view_period_key(key)


@pytest.mark.parametrize("key", ["24a1", "24A", "24A12", "24-1", ""])
def test_view_period_keys_refused(key: str) -> None:
    assert refusal(V.view_period_key, key) == E.VIEW_PERIOD_KEY_INVALID


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-02-29", date(2024, 2, 29)),
        ("2023-02-29", None),
        ("2017-02-30", None),
        ("2024-1-01", None),
        ("20240101", None),
        ("2024-01-01T00:00", None),
        ("x2024-01-01", None),
    ],
)
def test_strict_dates(text: str, expected: date | None) -> None:
    assert V.strict_date(text) == expected


def test_plus_years_keeps_the_day_or_falls_back_to_the_28th() -> None:
    assert V.plus_years(date(2024, 2, 29), 1) == date(2025, 2, 28)
    assert V.plus_years(date(2024, 2, 29), 4) == date(2028, 2, 29)
    assert V.plus_years(date(2023, 3, 31), 1) == date(2024, 3, 31)


# -- obligations query --------------------------------------------------------------------------


def obligations_error(from_: str | None, to: str | None, status: str | None) -> str:
    error = refusal(V.obligations_query, from_, to, status)
    assert error.status == 400
    return str(body_of(error)["message"])


@pytest.mark.parametrize(
    ("from_", "to", "status", "message"),
    [
        (None, None, None, "INVALID_DATE_FROM"),
        (None, None, "F", "MISSING_DATE_RANGE"),
        (None, None, "X", "INVALID_STATUS"),
        ("2024-01-01", None, None, "INVALID_DATE_TO"),
        ("2024-01-01", None, "O", "INVALID_DATE_TO"),
        (None, "2024-06-01", None, "INVALID_DATE_FROM"),
        ("2024-13-01", "2024-06-01", None, "INVALID_DATE_FROM"),
        ("2024-13-01", "bad", "X", "INVALID_DATE_FROM"),
        ("2024-01-01", "2024-02-30", None, "INVALID_DATE_TO"),
        ("2024-01-01", "bad", "X", "INVALID_DATE_TO"),
        ("2024-01-01", "2024-06-01", "X", "INVALID_STATUS"),
        ("2024-01-01", "2024-06-01", "o", "INVALID_STATUS"),
        ("2024-06-01", "2024-06-01", None, "INVALID_DATE_RANGE"),
        ("2024-06-02", "2024-06-01", "O", "INVALID_DATE_RANGE"),
        ("2024-01-01", "2025-01-02", None, "INVALID_DATE_RANGE"),
    ],
)
def test_obligations_query_refusals_in_hmrc_order(
    from_: str | None, to: str | None, status: str | None, message: str
) -> None:
    assert obligations_error(from_, to, status) == message


def test_obligations_query_accepts_open_without_dates_and_a_full_year() -> None:
    assert V.obligations_query(None, None, "O") == V.ObligationsQuery(None, None, "O")
    full_year = V.obligations_query("2024-01-01", "2025-01-01", "F")
    assert full_year == V.ObligationsQuery(date(2024, 1, 1), date(2025, 1, 1), "F")
    one_day = V.obligations_query("2024-01-01", "2024-01-02", None)
    assert one_day == V.ObligationsQuery(date(2024, 1, 1), date(2024, 1, 2), None)
    leap = V.obligations_query("2024-02-29", "2025-02-28", "O")
    assert (leap.start, leap.end) == (date(2024, 2, 29), date(2025, 2, 28))
    assert obligations_error("2024-02-29", "2025-03-01", None) == "INVALID_DATE_RANGE"


# -- liabilities and payments ---------------------------------------------------------------------

TODAY = date(2025, 6, 30)


def financial_error(from_: str | None, to: str | None) -> str:
    error = refusal(V.financial_query, from_, to, TODAY)
    assert error.status == 400
    return str(body_of(error)["message"])


@pytest.mark.parametrize(
    ("from_", "to", "message"),
    [
        (None, "2025-01-01", "DATE_FROM_INVALID"),
        ("bad", "bad", "DATE_FROM_INVALID"),
        ("2016-04-05", "2016-05-01", "DATE_FROM_INVALID"),
        ("2025-01-01", None, "DATE_TO_INVALID"),
        ("2025-01-01", "2025-02-30", "DATE_TO_INVALID"),
        ("2025-01-01", "2025-07-01", "DATE_TO_INVALID"),
        ("2025-01-01", "2025-01-01", "DATE_RANGE_INVALID"),
        ("2025-01-02", "2025-01-01", "DATE_RANGE_INVALID"),
        ("2024-01-01", "2025-01-01", "DATE_RANGE_INVALID"),
    ],
)
def test_financial_query_refusals(from_: str | None, to: str | None, message: str) -> None:
    assert financial_error(from_, to) == message


def test_financial_query_accepts_its_edges() -> None:
    assert V.financial_query("2016-04-06", "2016-04-07", TODAY) == (
        date(2016, 4, 6),
        date(2016, 4, 7),
    )
    # A year less a day is the longest range; today is the latest end.
    assert V.financial_query("2024-07-01", "2025-06-30", TODAY) == (
        date(2024, 7, 1),
        date(2025, 6, 30),
    )
    assert financial_error("2024-06-30", "2025-06-30") == "DATE_RANGE_INVALID"


# -- submitted returns ----------------------------------------------------------------------------


def test_a_good_return_passes_unchanged() -> None:
    body = good_return()
    assert V.return_body(body) is body


def test_negative_boxes_and_a_zero_return_pass() -> None:
    V.return_body(
        good_return(
            vatDueSales=Decimal("-10.00"),
            vatDueAcquisitions=Decimal("-5.5"),
            totalVatDue=Decimal("-15.50"),
            vatReclaimedCurrPeriod=Decimal("0"),
            netVatDue=Decimal("15.50"),
            totalValueSalesExVAT=-3,
        )
    )
    zero = {f: 0 for f in V.NUMERIC}
    V.return_body(good_return(**zero))


def test_every_missing_field_is_named_in_order() -> None:
    assert field_errors({}) == [("MANDATORY_FIELD_MISSING", f"/{f}") for f in V.FIELDS]
    assert field_errors("not an object") == [("MANDATORY_FIELD_MISSING", f"/{f}") for f in V.FIELDS]
    body = good_return()
    del body["finalised"]
    del body["netVatDue"]
    assert field_errors(body) == [
        ("MANDATORY_FIELD_MISSING", "/netVatDue"),
        ("MANDATORY_FIELD_MISSING", "/finalised"),
    ]


@pytest.mark.parametrize("name", V.TWO_DP)
def test_two_decimal_places_at_most(name: str) -> None:
    V.return_body(_consistent(name, Decimal("1.5")))
    assert field_errors(good_return(**{name: Decimal("1.001")})) == [
        ("INVALID_MONETARY_AMOUNT", f"/{name}")
    ]


def _consistent(name: str, value: Decimal) -> dict[str, Any]:
    """The other boxes adjusted so that only `name`'s own rule is under test."""
    body = good_return(**{name: value})
    if name == "totalVatDue":
        body["vatDueSales"] = value - body["vatDueAcquisitions"]
    else:
        body["totalVatDue"] = body["vatDueSales"] + body["vatDueAcquisitions"]
    total, reclaimed = body["totalVatDue"], body["vatReclaimedCurrPeriod"]
    body["netVatDue"] = abs(total - reclaimed)
    return body


@pytest.mark.parametrize("name", V.TWO_DP)
def test_two_decimal_place_boxes_range(name: str) -> None:
    edge = Decimal("9999999999999.99")
    for value in (edge, -edge):
        errors = _field_errors_or_none(good_return(**{name: value}))
        assert ("INVALID_MONETARY_AMOUNT", f"/{name}") not in errors
    for value in (edge + Decimal("0.01"), -edge - Decimal("0.01")):
        assert field_errors(good_return(**{name: value})) == [
            ("INVALID_MONETARY_AMOUNT", f"/{name}")
        ]


def _field_errors_or_none(body: dict[str, Any]) -> list[tuple[str, str]]:
    try:
        V.return_body(body)
    except Rejected as exc:
        return [(e["code"], e.get("path", "")) for e in body_of(exc.error).get("errors", [])]
    return []


def test_net_vat_due_is_between_zero_and_its_maximum_with_two_places() -> None:
    net = "/netVatDue"
    assert field_errors(good_return(netVatDue=Decimal("-0.01"))) == [
        ("INVALID_MONETARY_AMOUNT", net)
    ]
    assert field_errors(good_return(netVatDue=Decimal("1.234"))) == [
        ("INVALID_MONETARY_AMOUNT", net)
    ]
    assert field_errors(good_return(netVatDue=Decimal("100000000000.00"))) == [
        ("INVALID_MONETARY_AMOUNT", net)
    ]
    top = Decimal("99999999999.99")
    V.return_body(
        good_return(
            totalVatDue=top, vatDueSales=top, vatReclaimedCurrPeriod=Decimal(0), netVatDue=top
        )
    )
    V.return_body(
        good_return(
            totalVatDue=Decimal(0),
            vatDueSales=Decimal(0),
            vatReclaimedCurrPeriod=Decimal(0),
            netVatDue=Decimal(0),
        )
    )


@pytest.mark.parametrize("name", V.WHOLE)
def test_whole_pound_boxes(name: str) -> None:
    V.return_body(good_return(**{name: Decimal("12.00")}))
    V.return_body(good_return(**{name: 9999999999999}))
    V.return_body(good_return(**{name: -9999999999999}))
    for value in (Decimal("12.5"), 10000000000000, -10000000000000):
        assert field_errors(good_return(**{name: value})) == [
            ("INVALID_MONETARY_AMOUNT", f"/{name}")
        ]


def test_json_types() -> None:
    body = good_return(periodKey=2401, vatDueSales="100.10", finalised="true")
    assert field_errors(body) == [
        ("INVALID_STRING_VALUE", "/periodKey"),
        ("INVALID_NUMERIC_VALUE", "/vatDueSales"),
        ("UNMAPPED_PLAY_ERROR", "/finalised"),
    ]
    # A JSON boolean is not a number, and a number is not a boolean.
    assert field_errors(good_return(totalValueSalesExVAT=True)) == [
        ("INVALID_NUMERIC_VALUE", "/totalValueSalesExVAT")
    ]
    assert field_errors(good_return(finalised=1)) == [("UNMAPPED_PLAY_ERROR", "/finalised")]
    assert field_errors(good_return(netVatDue=60.1)) == [("INVALID_NUMERIC_VALUE", "/netVatDue")]


@pytest.mark.parametrize("key", ["24a1", "24A", "24A12", "24 1"])
def test_period_key_format(key: str) -> None:
    assert field_errors(good_return(periodKey=key)) == [("PERIOD_KEY_INVALID", "/periodKey")]


def test_hash_period_keys_pass() -> None:
    V.return_body(good_return(periodKey="#001"))


def test_errors_of_every_level_are_collected_in_hmrc_order() -> None:
    body = good_return(
        vatDueSales=Decimal("1.001"),
        netVatDue=Decimal("-1"),
        totalValueSalesExVAT=Decimal("1.5"),
        periodKey="bad",
        vatDueAcquisitions="x",
        totalAcquisitionsExVAT=10**14,
    )
    del body["finalised"]
    assert field_errors(body) == [
        ("MANDATORY_FIELD_MISSING", "/finalised"),
        ("INVALID_MONETARY_AMOUNT", "/vatDueSales"),
        ("INVALID_MONETARY_AMOUNT", "/netVatDue"),
        ("INVALID_MONETARY_AMOUNT", "/totalValueSalesExVAT"),
        ("INVALID_NUMERIC_VALUE", "/vatDueAcquisitions"),
        ("PERIOD_KEY_INVALID", "/periodKey"),
        ("INVALID_MONETARY_AMOUNT", "/totalAcquisitionsExVAT"),
    ]


def test_net_must_be_the_difference_of_total_and_reclaimed() -> None:
    assert field_errors(good_return(netVatDue=Decimal("60.00"))) == [
        ("VAT_NET_VALUE", "/netVatDue")
    ]
    # Reclaiming more than is due: the difference is still positive.
    V.return_body(good_return(vatReclaimedCurrPeriod=Decimal("150.10"), netVatDue=Decimal("50.00")))


def test_total_must_be_sales_plus_acquisitions() -> None:
    body = good_return(vatDueAcquisitions=Decimal("1.00"))
    assert field_errors(body) == [("VAT_TOTAL_VALUE", "/totalVatDue")]
    both = good_return(vatDueAcquisitions=Decimal("1.00"), netVatDue=Decimal("1.00"))
    assert field_errors(both) == [
        ("VAT_NET_VALUE", "/netVatDue"),
        ("VAT_TOTAL_VALUE", "/totalVatDue"),
    ]
    V.return_body(
        good_return(
            vatDueSales=Decimal("60.05"),
            vatDueAcquisitions=Decimal("40.05"),
            totalVatDue=Decimal("100.10"),
        )
    )


def test_a_return_not_declared_final_is_a_business_error() -> None:
    assert refusal(V.return_body, good_return(finalised=False)) == E.NOT_FINALISED


def test_field_checks_come_before_consistency_and_finalisation() -> None:
    body = good_return(finalised=False, netVatDue=Decimal("1.00"), periodKey="bad")
    assert field_errors(body) == [("PERIOD_KEY_INVALID", "/periodKey")]
    consistency = good_return(finalised=False, netVatDue=Decimal("1.00"))
    assert field_errors(consistency) == [("VAT_NET_VALUE", "/netVatDue")]
