"""Fraud prevention headers checked against HMRC's specification v3.3, per connection method.

One validator for the platform: the gateway checks every request with it before calling
HMRC, and the simulator answers HMRC's Test Fraud Prevention Headers API with it.

The required headers per connection method, the allowed values and the formats come from
`contracts/hmrc/fraud-prevention/fph-headers-v3.3.json`. HMRC's Test Fraud Prevention
Headers API is not published as source; its answer shape (VALID_HEADERS /
POTENTIALLY_INVALID_HEADERS / INVALID_HEADERS with errors and warnings naming the headers)
is followed, and every finding names the header(s) it is about, in lower case.

Errors are breaches of the specification; warnings are values that are allowed in form but
probably wrong (a stale timestamp, a header the connection method does not use).
"""

from __future__ import annotations

import ipaddress
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

from services.common import hmrc_contracts as contracts

SPEC: dict[str, Any] = contracts.load(contracts.FRAUD_PREVENTION)
SPEC_VERSION: str = SPEC["specVersion"]
METHODS: dict[str, list[str]] = SPEC["connection_methods"]
CONNECTION_METHOD = "gov-client-connection-method"
_HEADERS: dict[str, Any] = SPEC["headers"]
_NO_LONGER_REQUIRED = {
    "WEB_APP_VIA_SERVER": [h.lower() for h in SPEC["no_longer_required_for_WEB_APP_VIA_SERVER"]]
}
_MFA_TYPES = set(_HEADERS["Gov-Client-Multi-Factor"]["type_values"])
# 'os' is required in Gov-Client-User-IDs except for web and mobile applications.
_USER_IDS_WITHOUT_OS = {"WEB_APP_VIA_SERVER", "MOBILE_APP_DIRECT", "MOBILE_APP_VIA_SERVER"}
# Desktop, mobile and other applications via a server name client and server software.
_TWO_VERSIONS = {"DESKTOP_APP_VIA_SERVER", "MOBILE_APP_VIA_SERVER", "OTHER_VIA_SERVER"}
_PLACEHOLDERS = {"null", "undefined", "none", "nil", "n/a", "unknown", "-"}
_MILLIS_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
_MFA_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?Z$")
_TIMEZONE = re.compile(_HEADERS["Gov-Client-Timezone"]["regex_hint"])
_MAC = re.compile(r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$")
# Characters that must be percent-encoded; '%' must start an escape.
_UNENCODED = re.compile(r"[\s\"<>\\^`{|}]|%(?![0-9A-Fa-f]{2})")
_STALE = timedelta(hours=1)

VALID = ("VALID_HEADERS", "All headers appear to be valid")
POTENTIALLY_INVALID = ("POTENTIALLY_INVALID_HEADERS", "At least 1 header is potentially invalid")
INVALID = ("INVALID_HEADERS", "At least 1 header is invalid")


@dataclass(frozen=True)
class Finding:
    code: str
    message: str
    headers: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "headers": list(self.headers)}


@dataclass
class Report:
    connection_method: str | None
    errors: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)

    def error(self, header: str, message: str, code: str = "INVALID_HEADER") -> None:
        self.errors.append(Finding(code, message, (header,)))

    def warn(self, header: str, message: str, code: str = "POTENTIALLY_INVALID_HEADER") -> None:
        self.warnings.append(Finding(code, message, (header,)))

    @property
    def outcome(self) -> tuple[str, str]:
        if self.errors:
            return INVALID
        return POTENTIALLY_INVALID if self.warnings else VALID

    def as_json(self) -> dict[str, Any]:
        code, message = self.outcome
        body: dict[str, Any] = {"specVersion": SPEC_VERSION, "code": code, "message": message}
        if self.errors:
            body["errors"] = [f.as_json() for f in self.errors]
        if self.warnings:
            body["warnings"] = [f.as_json() for f in self.warnings]
        return body


def validate(headers: dict[str, str], now: datetime) -> Report:
    """Check Gov-Client-* / Gov-Vendor-* headers (names in any case)."""
    given = {k.lower(): v for k, v in headers.items() if k.lower().startswith("gov-")}
    given.pop("gov-test-scenario", None)
    method = given.get(CONNECTION_METHOD)
    if method is None:
        report = Report(None)
        report.error(CONNECTION_METHOD, "Header required", "MISSING_HEADER")
        return report
    if method not in METHODS:
        report = Report(None)
        report.error(
            CONNECTION_METHOD,
            "Value must be one of: "
            + ", ".join(_HEADERS["Gov-Client-Connection-Method"]["values"]),
        )
        return report

    report = Report(method)
    required = [h.lower() for h in METHODS[method]]
    for name in required:
        if name not in given:
            report.error(name, f"Header required for connection method {method}", "MISSING_HEADER")
    for name, value in given.items():
        if name not in required:
            if name in _NO_LONGER_REQUIRED.get(method, []):
                report.warn(name, f"Header no longer required for {method}", "UNEXPECTED_HEADER")
            else:
                report.warn(name, f"Header not expected for {method}", "UNEXPECTED_HEADER")
            continue
        if name == CONNECTION_METHOD:
            continue
        _check(report, method, name, value, now)
    return report


def _check(report: Report, method: str, name: str, value: str, now: datetime) -> None:
    if value.strip() == "":
        report.error(name, "Value must not be empty", "EMPTY_HEADER")
        return
    if not value.isascii():
        report.error(name, "Value must be US-ASCII; percent-encode other characters")
        return
    if unquote(value).strip().lower() in _PLACEHOLDERS:
        report.error(name, "Value must not be a placeholder; use HMRC's missing-data process")
        return
    checker = _CHECKS.get(name)
    if checker is not None:
        problem = checker(value, method, now)
        if problem is not None:
            severity, message = problem
            (report.error if severity == "error" else report.warn)(name, message)


Problem = tuple[str, str] | None


def _encoded(value: str) -> Problem:
    if _UNENCODED.search(value):
        return ("error", "Value must be percent-encoded")
    return None


def _pairs(value: str) -> dict[str, str] | None:
    """`k=v&k=v`, keys and values decoded; None when malformed."""
    out: dict[str, str] = {}
    for part in value.split("&"):
        key, sep, item = part.partition("=")
        if not sep or not key:
            return None
        out[unquote(key)] = unquote(item)
    return out


def _items(value: str) -> list[str] | None:
    items = value.split(",")
    return None if any(i == "" for i in items) else items


def _ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(unquote(value))
    except ValueError:
        return None


# Addresses no public hop can have. The specification's own examples use the documentation
# ranges (198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32), so those count as public here.
_NOT_PUBLIC = [
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "::/128",
        "::1/128",
        "fc00::/7",
        "fe80::/10",
    )
]


def _private(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return address.is_multicast or any(
        address in network for network in _NOT_PUBLIC if network.version == address.version
    )


def _public_ip(value: str, method: str, now: datetime) -> Problem:
    address = _ip(value)
    if address is None:
        return ("error", "Value must be an IPv4 or IPv6 address")
    if _private(address):
        return ("error", "Value must be a public IP address")
    return None


def _timestamp(value: str, method: str, now: datetime) -> Problem:
    if not _MILLIS_TIMESTAMP.match(value):
        return ("error", "Value must be a UTC timestamp in the format yyyy-MM-ddThh:mm:ss.sssZ")
    try:
        moment = datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    except ValueError:
        return ("error", "Value must be a real date and time")
    if abs(now - moment) > _STALE:
        return ("warning", "Timestamp is more than an hour away from the time of the request")
    return None


def _port(value: str, method: str, now: datetime) -> Problem:
    if not value.isdigit() or not 1 <= int(value) <= 65535:
        return ("error", "Value must be a port number between 1 and 65535")
    if int(value) in (80, 443):
        return ("error", "Value must be the client's source port, not a server port")
    return None


def _positive_int(text: str) -> bool:
    return text.isdigit() and int(text) > 0


def _positive_number(text: str) -> bool:
    try:
        return float(text) > 0
    except ValueError:
        return False


def _screens(value: str, method: str, now: datetime) -> Problem:
    items = _items(value)
    if items is None:
        return ("error", "Value must be a comma-separated list of screens")
    for item in items:
        pairs = _pairs(item)
        if pairs is None or not all(
            k in pairs for k in ("width", "height", "scaling-factor", "colour-depth")
        ):
            return ("error", "Each screen must have width, height, scaling-factor and colour-depth")
        if not (
            _positive_int(pairs["width"])
            and _positive_int(pairs["height"])
            and _positive_number(pairs["scaling-factor"])
            and _positive_int(pairs["colour-depth"])
        ):
            return ("error", "Screen width, height and colour-depth must be positive whole numbers")
    return None


def _window(value: str, method: str, now: datetime) -> Problem:
    pairs = _pairs(value)
    if pairs is None or not (
        _positive_int(pairs.get("width", "")) and _positive_int(pairs.get("height", ""))
    ):
        return ("error", "Value must be width=<pixels>&height=<pixels>")
    return None


def _timezone(value: str, method: str, now: datetime) -> Problem:
    if not _TIMEZONE.match(value):
        return ("error", "Value must be in the format UTC±hh:mm")
    return None


def _user_ids(value: str, method: str, now: datetime) -> Problem:
    pairs = _pairs(value)
    if pairs is None or not any(pairs.values()):
        return ("error", "Value must be key-value pairs naming the user's accounts")
    if method not in _USER_IDS_WITHOUT_OS and not pairs.get("os"):
        return ("error", f"Value must include the os key for {method}")
    return _encoded(value)


def _multi_factor(value: str, method: str, now: datetime) -> Problem:
    items = _items(value)
    if items is None:
        return ("error", "Value must be a comma-separated list of factors")
    for item in items:
        pairs = _pairs(item)
        if pairs is None:
            return ("error", "Each factor must be type, timestamp and unique-reference pairs")
        if pairs.get("type") not in _MFA_TYPES:
            return ("error", "type must be one of: " + ", ".join(sorted(_MFA_TYPES)))
        if not _MFA_TIMESTAMP.match(pairs.get("timestamp", "")):
            return ("error", "timestamp must be UTC, yyyy-MM-ddThh:mmZ at least, percent-encoded")
        if not pairs.get("unique-reference"):
            return ("error", "unique-reference must not be empty")
    return _encoded(value)


def _local_ips(value: str, method: str, now: datetime) -> Problem:
    items = _items(value)
    if items is None or any(_ip(i) is None for i in items):
        return ("error", "Value must be a comma-separated list of IP addresses")
    return None


def _macs(value: str, method: str, now: datetime) -> Problem:
    items = _items(value)
    if items is None or not all(_MAC.match(unquote(i)) for i in items):
        return ("error", "Value must be a comma-separated list of percent-encoded MAC addresses")
    if any(":" in i for i in items):
        return ("error", "Value must be percent-encoded (':' as %3A)")
    return None


_AGENT_KEYS = ("os-family", "os-version", "device-manufacturer", "device-model")


def _user_agent(value: str, method: str, now: datetime) -> Problem:
    pairs = _pairs(value)
    if pairs is None or not any(k in pairs for k in _AGENT_KEYS):
        return ("error", "Value must have os-family, os-version, device-manufacturer, device-model")
    return _encoded(value)


def _device_id(value: str, method: str, now: datetime) -> Problem:
    try:
        uuid.UUID(value)
    except ValueError:
        return ("error", "Value must be a UUID")
    return None


def _forwarded(value: str, method: str, now: datetime) -> Problem:
    items = _items(value)
    if items is None:
        return ("error", "Value must be a comma-separated list of by=<ip>&for=<ip> hops")
    for item in items:
        pairs = _pairs(item)
        if pairs is None or "by" not in pairs or "for" not in pairs:
            return ("error", "Each hop must be by=<ip>&for=<ip>")
        for side in ("by", "for"):
            address = _ip(pairs[side])
            if address is None:
                return ("error", f"{side} must be an IP address")
            if _private(address):
                return ("error", "Hops within a private network must not be included")
    return None


def _key_values(value: str, method: str, now: datetime) -> Problem:
    pairs = _pairs(value)
    if pairs is None or not all(pairs.values()):
        return ("error", "Value must be key-value pairs with values")
    return _encoded(value)


def _versions(value: str, method: str, now: datetime) -> Problem:
    problem = _key_values(value, method, now)
    if problem is not None:
        return problem
    pairs = _pairs(value) or {}
    if method in _TWO_VERSIONS and len(pairs) < 2:
        return ("error", f"Value must name the client and the server software for {method}")
    return None


def _product_name(value: str, method: str, now: datetime) -> Problem:
    return _encoded(value)


_CHECKS = {
    "gov-client-device-id": _device_id,
    "gov-client-public-ip": _public_ip,
    "gov-vendor-public-ip": _public_ip,
    "gov-client-public-ip-timestamp": _timestamp,
    "gov-client-local-ips-timestamp": _timestamp,
    "gov-client-public-port": _port,
    "gov-client-screens": _screens,
    "gov-client-window-size": _window,
    "gov-client-timezone": _timezone,
    "gov-client-user-ids": _user_ids,
    "gov-client-multi-factor": _multi_factor,
    "gov-client-local-ips": _local_ips,
    "gov-client-mac-addresses": _macs,
    "gov-client-user-agent": _user_agent,
    "gov-vendor-forwarded": _forwarded,
    "gov-vendor-license-ids": _key_values,
    "gov-vendor-version": _versions,
    "gov-vendor-product-name": _product_name,
}
