"""HMRC's fraud prevention headers (specification v3.3) for one request: the device data an
API client sent, plus what only the server knows — the client's public address as seen
through trusted proxies, the vendor's own public IP (configuration, never the client's),
the hop chain, product name, versions, hashed licence ids, and the user's ids and MFA from
auth. Only the headers the connection method requires are sent; a header with nothing
true to say is left out (the validator reports it), never sent empty or as a placeholder.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network
from urllib.parse import quote

from services.common import hmrc_contracts as contracts
from services.hmrc_gateway.device_data import DeviceData

SPEC = contracts.load(contracts.FRAUD_PREVENTION)
REQUIRED: dict[str, list[str]] = SPEC["connection_methods"]
PLATFORM_USER_KEY = "mtd-vat-platform"
_HEX64 = re.compile(r"^[0-9A-Fa-f]{64}$")
_SERVER_PORTS = frozenset({80, 443})


def pct(value: str) -> str:
    """RFC 3986 percent-encoding: everything but unreserved characters."""
    return quote(value, safe="")


def key_values(pairs: Iterable[tuple[str, str]]) -> str:
    return "&".join(f"{pct(k)}={pct(v)}" for k, v in pairs)


def millis(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def minutes(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def decimal_text(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text


def hashed(value: str) -> str:
    """Licence keys are sent hashed; a value that already is a SHA-256 hex stays as it is."""
    if _HEX64.match(value):
        return value.upper()
    return hashlib.sha256(value.encode()).hexdigest().upper()


@dataclass(frozen=True)
class ConnectionFacts:
    """What the service that took the device's request saw of its connection."""

    received_at: datetime
    peer_ip: str | None = None
    peer_port: int | None = None
    forwarded: str | None = None
    x_forwarded_for: str | None = None


@dataclass(frozen=True)
class UserFacts:
    """From auth: the platform user's hashed id and how they passed MFA."""

    user_id_hash: str | None = None
    multi_factor: tuple[tuple[str, datetime, str], ...] = ()  # (type, when, reference)


@dataclass(frozen=True)
class Vendor:
    public_ip: str
    product_name: str
    software_name: str
    version: str
    trusted_proxies: tuple[IPv4Network | IPv6Network, ...] = field(default_factory=tuple)

    @classmethod
    def configure(
        cls,
        public_ip: str,
        product_name: str,
        software_name: str,
        version: str,
        trusted_proxies: Iterable[str],
    ) -> Vendor:
        nets = tuple(ip_network(c, strict=False) for c in trusted_proxies)
        return cls(public_ip, product_name, software_name, version, nets)

    def trusts(self, address: str) -> bool:
        try:
            ip = ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in self.trusted_proxies)


def _forwarded_nodes(header: str) -> list[tuple[str, int | None]]:
    """`for=` nodes of an RFC 7239 Forwarded header, leftmost (the client) first."""
    nodes: list[tuple[str, int | None]] = []
    for element in header.split(","):
        for pair in element.split(";"):
            key, _, value = pair.strip().partition("=")
            if key.lower() != "for":
                continue
            value = value.strip().strip('"')
            port: int | None = None
            if value.startswith("["):
                host, _, rest = value[1:].partition("]")
                if rest.startswith(":") and rest[1:].isdigit():
                    port = int(rest[1:])
            elif value.count(":") == 1:
                host, _, port_text = value.partition(":")
                port = int(port_text) if port_text.isdigit() else None
            else:
                host = value
            nodes.append((host, port))
    return nodes


def client_address(facts: ConnectionFacts, vendor: Vendor) -> tuple[str | None, int | None]:
    """The device's public address: walk the proxy chain from our side and stop at the first
    hop we do not trust. Headers from an untrusted peer are ignored (anyone can forge them)."""
    if facts.peer_ip is None:
        return None, None
    if not vendor.trusts(facts.peer_ip):
        return facts.peer_ip, facts.peer_port
    nodes: list[tuple[str, int | None]] = []
    if facts.forwarded:
        nodes = _forwarded_nodes(facts.forwarded)
    elif facts.x_forwarded_for:
        nodes = [(v.strip(), None) for v in facts.x_forwarded_for.split(",") if v.strip()]
    for host, port in reversed(nodes):
        if not vendor.trusts(host):
            return host, port
    return nodes[0] if nodes else (facts.peer_ip, facts.peer_port)


def _public(address: str | None) -> str | None:
    if address is None:
        return None
    try:
        ip = ip_address(address)
    except ValueError:
        return None
    return str(ip) if ip.is_global else None


def build(
    device: DeviceData,
    vendor: Vendor,
    *,
    tenant_id: str,
    facts: ConnectionFacts | None = None,
    user: UserFacts | None = None,
) -> dict[str, str]:
    """The headers to send HMRC for this device and connection method."""
    method = device.connection_method
    now = facts.received_at if facts is not None else datetime.now(UTC)
    seen_ip, seen_port = client_address(facts, vendor) if facts else (None, None)
    public_ip = device.public_ip or _public(seen_ip)
    port = device.public_port or (seen_port if device.public_ip is None else None)
    if port in _SERVER_PORTS:
        port = None

    candidates: dict[str, str | None] = {
        "Gov-Client-Connection-Method": method,
        "Gov-Client-Device-ID": str(device.device_id) if device.device_id else None,
        "Gov-Client-Timezone": device.timezone,
        "Gov-Client-Browser-JS-User-Agent": (
            pct(device.browser_js_user_agent) if device.browser_js_user_agent else None
        ),
        "Gov-Client-Public-IP": public_ip,
        "Gov-Client-Public-IP-Timestamp": millis(device.public_ip_timestamp or now)
        if public_ip
        else None,
        "Gov-Client-Public-Port": str(port) if public_ip and port else None,
        "Gov-Vendor-Public-IP": vendor.public_ip,
        "Gov-Vendor-Product-Name": pct(device.vendor_product_name or vendor.product_name),
    }
    candidates["Gov-Client-Screens"] = (
        ",".join(
            key_values(
                [
                    ("width", str(s.width)),
                    ("height", str(s.height)),
                    ("scaling-factor", decimal_text(s.scaling_factor)),
                    ("colour-depth", str(s.colour_depth)),
                ]
            )
            for s in device.screens
        )
        or None
    )
    if device.window_size is not None:
        candidates["Gov-Client-Window-Size"] = key_values(
            [("width", str(device.window_size.width)), ("height", str(device.window_size.height))]
        )
    if device.user_agent is not None:
        ua = device.user_agent
        candidates["Gov-Client-User-Agent"] = key_values(
            [
                ("os-family", ua.os_family),
                ("os-version", ua.os_version),
                ("device-manufacturer", ua.device_manufacturer),
                ("device-model", ua.device_model),
            ]
        )
    if device.local_ips:
        candidates["Gov-Client-Local-IPs"] = ",".join(pct(ip) for ip in device.local_ips)
        candidates["Gov-Client-Local-IPs-Timestamp"] = millis(device.local_ips_timestamp or now)
    if device.mac_addresses:
        candidates["Gov-Client-MAC-Addresses"] = ",".join(pct(m) for m in device.mac_addresses)

    user_ids = dict(device.user_ids)
    if user is not None and user.user_id_hash:
        user_ids[PLATFORM_USER_KEY] = user.user_id_hash
    candidates["Gov-Client-User-IDs"] = key_values(user_ids.items()) or None

    factors: list[tuple[str, datetime, str]] = [
        (f.type, f.timestamp, f.unique_reference) for f in device.multi_factor
    ]
    if user is not None:
        factors.extend(user.multi_factor)
    candidates["Gov-Client-Multi-Factor"] = (
        ",".join(
            key_values([("type", t), ("timestamp", minutes(at)), ("unique-reference", ref)])
            for t, at, ref in factors
        )
        or None
    )

    hops = [(h.by, h.for_) for h in device.vendor_forwarded]
    if not hops and public_ip:
        hops = [(vendor.public_ip, public_ip)]
    candidates["Gov-Vendor-Forwarded"] = (
        ",".join(key_values([("by", by), ("for", for_)]) for by, for_ in hops) or None
    )

    versions = {**device.vendor_version, vendor.software_name: vendor.version}
    candidates["Gov-Vendor-Version"] = key_values(versions.items())
    licences = {k: hashed(v) for k, v in device.vendor_licence_ids.items()}
    # The tenant's licence to the platform itself, hashed like any other.
    licences.setdefault(PLATFORM_USER_KEY, hashed(f"tenant:{tenant_id}"))
    candidates["Gov-Vendor-License-IDs"] = key_values(licences.items())

    return {
        name: value
        for name in REQUIRED[method]
        if (value := candidates.get(name)) is not None and value != ""
    }


def user_facts(document: Mapping[str, object]) -> UserFacts:
    """Auth's `fraud-facts` answer as `UserFacts`."""
    factors = []
    for f in document.get("multi_factor") or []:  # type: ignore[attr-defined]
        at = datetime.strptime(f["timestamp"], "%Y-%m-%dT%H:%MZ").replace(tzinfo=UTC)
        factors.append((str(f["type"]), at, str(f["unique_reference"])))
    user_hash = document.get("user_id_hash")
    return UserFacts(str(user_hash) if user_hash else None, tuple(factors))
