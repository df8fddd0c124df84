"""Device data for every connection method, as API clients would send it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

CLIENT_IP = "81.2.69.160"
CLIENT_PORT = 41234

_COMMON: dict[str, Any] = {
    "device_id": str(uuid.UUID("beec798b-b366-47fa-b1f8-92cede14a1ce")),
    "timezone": "UTC+01:00",
    "multi_factor": [
        {"type": "TOTP", "timestamp": "2026-11-27T10:20:00Z", "unique_reference": "a1b2c3d4"}
    ],
    "vendor_version": {"my-accounts-app": "2.4.1"},
    "vendor_licence_ids": {"my-accounts-app": "LICENCE-0042"},
}
_SCREEN = {
    "screens": [{"width": 1920, "height": 1080, "scaling_factor": "1.25", "colour_depth": 24}],
    "window_size": {"width": 1256, "height": 803},
}
_UA = {
    "user_agent": {
        "os_family": "Windows",
        "os_version": "11 Pro",
        "device_manufacturer": "Dell Inc.",
        "device_model": "OptiPlex 980",
    }
}
_LOCAL = {
    "local_ips": ["10.1.2.3", "fe80::1"],
    "local_ips_timestamp": None,
    "mac_addresses": ["ea:43:1a:5d:21:45"],
}
_OS_USER = {"user_ids": {"os": "DOMAIN\\alice", "my-accounts-app": "alice@example.com"}}


def device(method: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    _LOCAL["local_ips_timestamp"] = now.isoformat()
    _COMMON["multi_factor"][0]["timestamp"] = now.replace(second=0).isoformat()
    base: dict[str, Any] = {"connection_method": method, **_COMMON}
    if method == "WEB_APP_VIA_SERVER":
        return {
            **base,
            **_SCREEN,
            "user_ids": {"my-accounts-app": "alice 123"},
            "browser_js_user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Gecko/20100101",
        }
    if method in ("DESKTOP_APP_VIA_SERVER", "DESKTOP_APP_DIRECT"):
        return {**base, **_SCREEN, **_UA, **_LOCAL, **_OS_USER}
    if method in ("MOBILE_APP_VIA_SERVER", "MOBILE_APP_DIRECT"):
        local = {k: v for k, v in _LOCAL.items() if k != "mac_addresses"}
        return {**base, **_SCREEN, **_UA, **local, "user_ids": {"my-accounts-app": "alice"}}
    # BATCH_PROCESS_DIRECT, OTHER_VIA_SERVER, OTHER_DIRECT
    return {**base, **_UA, **_LOCAL, **_OS_USER}


def connection() -> dict[str, Any]:
    """The device reached us through one trusted proxy on loopback."""
    return {
        "peer_ip": "127.0.0.1",
        "peer_port": 55000,
        "forwarded": f'for="{CLIENT_IP}:{CLIENT_PORT}";proto=https',
        "received_at": datetime.now(UTC).isoformat(),
    }


def web_headers() -> dict[str, str]:
    """A web app's device data as Gov-Client-* headers, with the proxy's Forwarded header."""
    return {
        "Gov-Client-Connection-Method": "WEB_APP_VIA_SERVER",
        "Gov-Client-Device-ID": "beec798b-b366-47fa-b1f8-92cede14a1ce",
        "Gov-Client-User-IDs": "my-accounts-app=alice%20123",
        "Gov-Client-Timezone": "UTC+00:00",
        "Gov-Client-Screens": "width=1920&height=1080&scaling-factor=1&colour-depth=24",
        "Gov-Client-Window-Size": "width=1256&height=803",
        "Gov-Client-Browser-JS-User-Agent": "Mozilla%2F5.0%20(X11)",
        "Gov-Client-Multi-Factor": (
            "type=TOTP&timestamp=2026-11-27T10%3A20Z&unique-reference=abc123"
        ),
        "Gov-Vendor-Version": "my-accounts-app=2.4.1",
        "Gov-Vendor-License-IDs": "my-accounts-app=LICENCE-0042",
        "Forwarded": f'for="{CLIENT_IP}:{CLIENT_PORT}"',
    }
