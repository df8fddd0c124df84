"""HMRC's fraud prevention header rules (services/common/fraud_prevention.py), header by
header and connection method by connection method, without any server: the fast tests the
mutation run (`make mutation`) relies on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.common import fraud_prevention as F

NOW = datetime(2025, 6, 30, 10, 20, 30, 123000, tzinfo=UTC)
STAMP = "2025-06-30T10:20:30.123Z"
WEB = "WEB_APP_VIA_SERVER"
BATCH = "BATCH_PROCESS_DIRECT"
DESKTOP_SERVER = "DESKTOP_APP_VIA_SERVER"

GOOD = {
    "Gov-Client-Browser-JS-User-Agent": "Mozilla%2F5.0%20(X11)",
    "Gov-Client-Device-ID": "beec798b-b366-47fa-b1f8-92cede14a1ce",
    "Gov-Client-Multi-Factor": "type=TOTP&timestamp=2025-06-30T10%3A20Z&unique-reference=abc123",
    "Gov-Client-Public-IP": "198.51.100.7",
    "Gov-Client-Public-IP-Timestamp": STAMP,
    "Gov-Client-Public-Port": "12345",
    "Gov-Client-Screens": "width=1920&height=1080&scaling-factor=1.25&colour-depth=24",
    "Gov-Client-Timezone": "UTC+01:00",
    "Gov-Client-User-IDs": "os=alice&my-app=alice%20123",
    "Gov-Client-Window-Size": "width=1256&height=803",
    "Gov-Vendor-Forwarded": "by=203.0.113.6&for=198.51.100.7",
    "Gov-Vendor-License-IDs": "my-app=LICENCE-0042",
    "Gov-Vendor-Product-Name": "My%20App",
    "Gov-Vendor-Public-IP": "203.0.113.6",
    "Gov-Vendor-Version": "my-app-client=1.0.0&my-app-server=2.1",
    "Gov-Client-Local-IPs": "10.1.2.3,fe80::1",
    "Gov-Client-Local-IPs-Timestamp": STAMP,
    "Gov-Client-MAC-Addresses": "ea%3A43%3A1a%3A5d%3A21%3A45",
    "Gov-Client-User-Agent": (
        "os-family=Windows&os-version=10&device-manufacturer=Dell&device-model=XPS"
    ),
}


def headers_for(method: str, **changes: str | None) -> dict[str, str]:
    """A complete, valid set for `method`, with `changes` (None removes a header)."""
    chosen = {h: GOOD[h] for h in F.METHODS[method] if h != "Gov-Client-Connection-Method"}
    chosen["Gov-Client-Connection-Method"] = method
    for key, value in changes.items():
        name = key.replace("_", "-")
        if value is None:
            chosen.pop(name, None)
        else:
            chosen[name] = value
    return chosen


def findings(
    method: str, header: str, value: str | None
) -> tuple[list[tuple[str, str, tuple[str, ...]]], list[tuple[str, str, tuple[str, ...]]]]:
    report = F.validate(
        {**headers_for(method), header: value}
        if value is not None
        else headers_for(method, **{header: None}),
        NOW,
    )
    return (
        [(f.code, f.message, f.headers) for f in report.errors],
        [(f.code, f.message, f.headers) for f in report.warnings],
    )


def error_of(method: str, header: str, value: str) -> str:
    errors, warnings = findings(method, header, value)
    assert warnings == []
    assert len(errors) == 1, errors
    code, message, named = errors[0]
    assert named == (header.lower(),)
    return f"{code}: {message}"


def ok(method: str, header: str, value: str) -> None:
    assert findings(method, header, value) == ([], [])


# -- the whole set ------------------------------------------------------------------------------


@pytest.mark.parametrize("method", sorted(F.METHODS))
def test_a_complete_set_is_valid_for_every_method(method: str) -> None:
    report = F.validate(headers_for(method), NOW)
    assert (report.errors, report.warnings) == ([], [])
    assert report.connection_method == method
    assert report.outcome == F.VALID
    assert report.as_json() == {
        "specVersion": F.SPEC_VERSION,
        "code": "VALID_HEADERS",
        "message": "All headers appear to be valid",
    }


def test_header_names_are_case_insensitive_and_others_are_ignored() -> None:
    given = {k.upper(): v for k, v in headers_for(WEB).items()}
    given["Gov-Test-Scenario"] = "DEFAULT"
    given["Authorization"] = "Bearer x"
    given["Accept"] = "application/json"
    assert F.validate(given, NOW).outcome == F.VALID


def test_no_connection_method() -> None:
    report = F.validate(headers_for(WEB, Gov_Client_Connection_Method=None), NOW)
    assert report.connection_method is None
    assert [(f.code, f.message, f.headers) for f in report.errors] == [
        ("MISSING_HEADER", "Header required", ("gov-client-connection-method",))
    ]
    assert report.warnings == []


def test_an_unknown_connection_method() -> None:
    report = F.validate({"Gov-Client-Connection-Method": "FAX"}, NOW)
    assert report.connection_method is None
    assert len(report.errors) == 1
    finding = report.errors[0]
    assert (finding.code, finding.headers) == ("INVALID_HEADER", ("gov-client-connection-method",))
    values = F._HEADERS["Gov-Client-Connection-Method"]["values"]
    assert finding.message == "Value must be one of: " + ", ".join(values)
    assert report.outcome == F.INVALID


@pytest.mark.parametrize(
    "header", [h for h in F.METHODS[WEB] if h != "Gov-Client-Connection-Method"]
)
def test_every_required_header_is_required(header: str) -> None:
    errors, warnings = findings(WEB, header, None)
    assert errors == [
        ("MISSING_HEADER", f"Header required for connection method {WEB}", (header.lower(),))
    ]
    assert warnings == []


def test_headers_the_method_does_not_use_are_warnings() -> None:
    report = F.validate(
        {
            **headers_for(WEB),
            "Gov-Client-MAC-Addresses": "not checked",
            "Gov-Client-Local-IPs": "10.0.0.1",
        },
        NOW,
    )
    assert report.errors == []
    assert [(f.code, f.message, f.headers) for f in report.warnings] == [
        ("UNEXPECTED_HEADER", f"Header not expected for {WEB}", ("gov-client-mac-addresses",)),
        ("UNEXPECTED_HEADER", f"Header no longer required for {WEB}", ("gov-client-local-ips",)),
    ]
    assert report.outcome == F.POTENTIALLY_INVALID
    body = report.as_json()
    assert body["code"] == "POTENTIALLY_INVALID_HEADERS"
    assert body["message"] == "At least 1 header is potentially invalid"
    assert body["warnings"][0] == {
        "code": "UNEXPECTED_HEADER",
        "message": f"Header not expected for {WEB}",
        "headers": ["gov-client-mac-addresses"],
    }
    assert "errors" not in body


def test_errors_outweigh_warnings_in_the_answer() -> None:
    report = F.validate(
        {**headers_for(WEB), "Gov-Client-Device-ID": "x", "Gov-Client-Local-IPs": "10.0.0.1"}, NOW
    )
    body = report.as_json()
    assert report.outcome == F.INVALID
    assert (body["code"], body["message"]) == ("INVALID_HEADERS", "At least 1 header is invalid")
    assert body["errors"] == [
        {
            "code": "INVALID_HEADER",
            "message": "Value must be a UUID",
            "headers": ["gov-client-device-id"],
        }
    ]
    assert len(body["warnings"]) == 1


# -- any header ---------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["", "   "])
def test_empty_values(value: str) -> None:
    assert error_of(WEB, "Gov-Client-Device-ID", value) == "EMPTY_HEADER: Value must not be empty"


def test_non_ascii_values() -> None:
    assert (
        error_of(WEB, "Gov-Vendor-Product-Name", "Caf\u00e9")
        == "INVALID_HEADER: Value must be US-ASCII; percent-encode other characters"
    )


@pytest.mark.parametrize("value", ["null", "UNDEFINED", "none", "nil", "N%2FA", "unknown", " - "])
def test_placeholders(value: str) -> None:
    assert (
        error_of(WEB, "Gov-Client-Browser-JS-User-Agent", value)
        == "INVALID_HEADER: Value must not be a placeholder; use HMRC's missing-data process"
    )


# -- header by header ---------------------------------------------------------------------------

PUBLIC = ["198.51.100.7", "2001:db8::1", "11.0.0.1", "172.32.0.1", "100.128.0.1", "8.8.8.8"]
NOT_PUBLIC = [
    "0.1.2.3",
    "10.0.0.1",
    "100.64.0.1",
    "127.0.0.1",
    "169.254.1.1",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.1.1",
    "224.0.0.1",
    "::",
    "::1",
    "fc00::1",
    "fe80::1",
    "ff02::1",
]


@pytest.mark.parametrize("header", ["Gov-Client-Public-IP", "Gov-Vendor-Public-IP"])
def test_public_ips(header: str) -> None:
    for value in PUBLIC:
        ok(WEB, header, value)
    for value in NOT_PUBLIC:
        assert error_of(WEB, header, value) == "INVALID_HEADER: Value must be a public IP address"
    assert error_of(WEB, header, "300.1.1.1") == (
        "INVALID_HEADER: Value must be an IPv4 or IPv6 address"
    )


@pytest.mark.parametrize("header", ["Gov-Client-Public-IP-Timestamp"])
def test_timestamps(header: str) -> None:
    ok(WEB, header, STAMP)
    hour = timedelta(hours=1)
    for edge in (NOW - hour, NOW + hour):
        ok(WEB, header, edge.strftime("%Y-%m-%dT%H:%M:%S.") + f"{edge.microsecond // 1000:03d}Z")
    for stale in ("2025-06-30T09:20:30.122Z", "2025-06-30T11:20:30.124Z"):
        errors, warnings = findings(WEB, header, stale)
        assert errors == []
        assert warnings == [
            (
                "POTENTIALLY_INVALID_HEADER",
                "Timestamp is more than an hour away from the time of the request",
                (header.lower(),),
            )
        ]
    for wrong in ("2025-06-30T10:20:30Z", "2025-06-30 10:20:30.123Z", "2025-06-30T10:20:30.123"):
        assert error_of(WEB, header, wrong) == (
            "INVALID_HEADER: Value must be a UTC timestamp in the format yyyy-MM-ddThh:mm:ss.sssZ"
        )
    assert error_of(WEB, header, "2025-02-30T10:20:30.123Z") == (
        "INVALID_HEADER: Value must be a real date and time"
    )


def test_local_ips_timestamp_is_checked_too() -> None:
    assert error_of(BATCH, "Gov-Client-Local-IPs-Timestamp", "yesterday").startswith(
        "INVALID_HEADER: Value must be a UTC timestamp"
    )


def test_public_port() -> None:
    for value in ("1", "65535", "8080"):
        ok(WEB, "Gov-Client-Public-Port", value)
    for value in ("0", "65536", "-1", "port"):
        assert error_of(WEB, "Gov-Client-Public-Port", value) == (
            "INVALID_HEADER: Value must be a port number between 1 and 65535"
        )
    for value in ("80", "443"):
        assert error_of(WEB, "Gov-Client-Public-Port", value) == (
            "INVALID_HEADER: Value must be the client's source port, not a server port"
        )


def test_screens() -> None:
    header = "Gov-Client-Screens"
    ok(WEB, header, "width=1&height=1&scaling-factor=0.5&colour-depth=1")
    ok(WEB, header, GOOD[header] + ",width=800&height=600&scaling-factor=1&colour-depth=16")
    assert error_of(WEB, header, GOOD[header] + ",") == (
        "INVALID_HEADER: Value must be a comma-separated list of screens"
    )
    keys = "Each screen must have width, height, scaling-factor and colour-depth"
    for value in ("width=1920&height=1080&scaling-factor=1", "width", "=1&height=2"):
        assert error_of(WEB, header, value) == f"INVALID_HEADER: {keys}"
    numbers = "Screen width, height and colour-depth must be positive whole numbers"
    for bad in (
        "width=0&height=1&scaling-factor=1&colour-depth=24",
        "width=1&height=0&scaling-factor=1&colour-depth=24",
        "width=1&height=1&scaling-factor=0&colour-depth=24",
        "width=1&height=1&scaling-factor=big&colour-depth=24",
        "width=1&height=1&scaling-factor=1&colour-depth=0",
        "width=1.5&height=1&scaling-factor=1&colour-depth=24",
    ):
        assert error_of(WEB, header, bad) == f"INVALID_HEADER: {numbers}"


def test_window_size() -> None:
    header = "Gov-Client-Window-Size"
    ok(WEB, header, "width=1&height=1")
    for bad in ("width=1256", "height=803", "width=0&height=803", "width=1&height=0", "w"):
        assert error_of(WEB, header, bad) == (
            "INVALID_HEADER: Value must be width=<pixels>&height=<pixels>"
        )


def test_timezone() -> None:
    ok(WEB, "Gov-Client-Timezone", "UTC-05:30")
    for bad in ("UTC+1:00", "GMT+01:00", "UTC+01:00x"):
        assert error_of(WEB, "Gov-Client-Timezone", bad) == (
            "INVALID_HEADER: Value must be in the format UTC\u00b1hh:mm"
        )


def test_user_ids() -> None:
    header = "Gov-Client-User-IDs"
    ok(WEB, header, "my-app=alice")  # web apps need no `os` key
    ok(BATCH, header, "os=alice&my-app=")
    for bad in ("my-app=", "alice", "=alice"):
        assert error_of(WEB, header, bad) == (
            "INVALID_HEADER: Value must be key-value pairs naming the user's accounts"
        )
    for bad in ("my-app=alice", "os=&my-app=alice"):
        assert error_of(BATCH, header, bad) == (
            f"INVALID_HEADER: Value must include the os key for {BATCH}"
        )
    assert error_of(WEB, header, "my-app=alice smith") == (
        "INVALID_HEADER: Value must be percent-encoded"
    )


def test_multi_factor() -> None:
    header = "Gov-Client-Multi-Factor"
    two = GOOD[header] + ",type=AUTH_CODE&timestamp=2025-06-30T10%3A20%3A30.1Z&unique-reference=x"
    ok(WEB, header, two)
    ok(WEB, header, "type=OTHER&timestamp=2025-06-30T10%3A20%3A30Z&unique-reference=r")
    assert error_of(WEB, header, GOOD[header] + ",") == (
        "INVALID_HEADER: Value must be a comma-separated list of factors"
    )
    assert error_of(WEB, header, "type") == (
        "INVALID_HEADER: Each factor must be type, timestamp and unique-reference pairs"
    )
    assert error_of(WEB, header, "type=SMS&timestamp=2025-06-30T10%3A20Z&unique-reference=r") == (
        "INVALID_HEADER: type must be one of: AUTH_CODE, OTHER, TOTP"
    )
    for stamp in ("2025-06-30", "2025-06-30T10%3A20", "x2025-06-30T10%3A20Z"):
        assert error_of(WEB, header, f"type=TOTP&timestamp={stamp}&unique-reference=r") == (
            "INVALID_HEADER: timestamp must be UTC, yyyy-MM-ddThh:mmZ at least, percent-encoded"
        )
    assert error_of(WEB, header, "type=TOTP&timestamp=2025-06-30T10%3A20Z") == (
        "INVALID_HEADER: unique-reference must not be empty"
    )
    assert error_of(
        WEB, header, "type=TOTP&timestamp=2025-06-30T10%3A20Z&unique-reference=a b"
    ) == ("INVALID_HEADER: Value must be percent-encoded")


def test_local_ips() -> None:
    header = "Gov-Client-Local-IPs"
    ok(BATCH, header, "192.168.0.2")
    for bad in ("192.168.0.2,", "192.168.0.2,host", "host"):
        assert error_of(BATCH, header, bad) == (
            "INVALID_HEADER: Value must be a comma-separated list of IP addresses"
        )


def test_mac_addresses() -> None:
    header = "Gov-Client-MAC-Addresses"
    ok(BATCH, header, GOOD[header] + ",EA%3A43%3A1A%3A5D%3A21%3A46")
    for bad in ("ea%3A43", "zz%3A43%3A1a%3A5d%3A21%3A45", GOOD[header] + ","):
        assert error_of(BATCH, header, bad) == (
            "INVALID_HEADER: Value must be a comma-separated list of percent-encoded MAC addresses"
        )
    assert error_of(BATCH, header, "ea:43:1a:5d:21:45") == (
        "INVALID_HEADER: Value must be percent-encoded (':' as %3A)"
    )


def test_user_agent() -> None:
    header = "Gov-Client-User-Agent"
    for one in ("os-family=Linux", "os-version=6", "device-manufacturer=X", "device-model=Y"):
        ok(BATCH, header, one)
    for bad in ("browser=Firefox", "os-family"):
        assert error_of(BATCH, header, bad) == (
            "INVALID_HEADER: Value must have "
            "os-family, os-version, device-manufacturer, device-model"
        )
    assert error_of(BATCH, header, "os-family=Windows 10") == (
        "INVALID_HEADER: Value must be percent-encoded"
    )


def test_device_id() -> None:
    ok(WEB, "Gov-Client-Device-ID", "BEEC798B-B366-47FA-B1F8-92CEDE14A1CE")
    assert (
        error_of(WEB, "Gov-Client-Device-ID", "device-1") == "INVALID_HEADER: Value must be a UUID"
    )


def test_vendor_forwarded() -> None:
    header = "Gov-Vendor-Forwarded"
    ok(WEB, header, GOOD[header] + ",by=203.0.113.7&for=203.0.113.6")
    assert error_of(WEB, header, GOOD[header] + ",") == (
        "INVALID_HEADER: Value must be a comma-separated list of by=<ip>&for=<ip> hops"
    )
    for bad in ("by=203.0.113.6", "for=198.51.100.7", "by"):
        assert error_of(WEB, header, bad) == "INVALID_HEADER: Each hop must be by=<ip>&for=<ip>"
    assert error_of(WEB, header, "by=proxy&for=198.51.100.7") == (
        "INVALID_HEADER: by must be an IP address"
    )
    assert error_of(WEB, header, "by=203.0.113.6&for=client") == (
        "INVALID_HEADER: for must be an IP address"
    )
    for bad in ("by=10.0.0.1&for=198.51.100.7", "by=203.0.113.6&for=192.168.1.1"):
        assert error_of(WEB, header, bad) == (
            "INVALID_HEADER: Hops within a private network must not be included"
        )


def test_license_ids() -> None:
    header = "Gov-Vendor-License-IDs"
    ok(WEB, header, "a=1&b=2")
    for bad in ("my-app=", "my-app", "a=1&b="):
        assert error_of(WEB, header, bad) == (
            "INVALID_HEADER: Value must be key-value pairs with values"
        )
    assert error_of(WEB, header, "my-app=LICENCE 42") == (
        "INVALID_HEADER: Value must be percent-encoded"
    )


def test_vendor_version() -> None:
    header = "Gov-Vendor-Version"
    ok(WEB, header, "my-app=1.0")
    for method in ("DESKTOP_APP_VIA_SERVER", "MOBILE_APP_VIA_SERVER", "OTHER_VIA_SERVER"):
        ok(method, header, "client=1&server=2")
        assert error_of(method, header, "my-app=1.0") == (
            f"INVALID_HEADER: Value must name the client and the server software for {method}"
        )
    assert error_of(WEB, header, "my-app=") == (
        "INVALID_HEADER: Value must be key-value pairs with values"
    )
    assert error_of(DESKTOP_SERVER, header, "a=1 0&b=2") == (
        "INVALID_HEADER: Value must be percent-encoded"
    )


def test_product_name() -> None:
    header = "Gov-Vendor-Product-Name"
    ok(WEB, header, "MyApp%E2%84%A2")
    for bad in ("My App", "My%App", 'My"App', "a<b", "a|b", "a{b}", "a`b", "a^b", "a\\b"):
        assert error_of(WEB, header, bad) == "INVALID_HEADER: Value must be percent-encoded"


def test_a_finding_as_json_lists_its_headers() -> None:
    finding = F.Finding("CODE", "message", ("a", "b"))
    assert finding.as_json() == {"code": "CODE", "message": "message", "headers": ["a", "b"]}


def test_an_unexpected_header_for_a_method_with_nothing_retired() -> None:
    errors, warnings = findings(BATCH, "Gov-Client-Public-Port", "12345")
    assert errors == []
    assert warnings == [
        ("UNEXPECTED_HEADER", f"Header not expected for {BATCH}", ("gov-client-public-port",))
    ]


def test_only_the_first_equals_sign_splits_a_pair() -> None:
    ok(BATCH, "Gov-Client-User-IDs", "os=a=b")


def test_a_factor_without_a_timestamp() -> None:
    assert error_of(WEB, "Gov-Client-Multi-Factor", "type=TOTP&unique-reference=r") == (
        "INVALID_HEADER: timestamp must be UTC, yyyy-MM-ddThh:mmZ at least, percent-encoded"
    )
