"""The CLI's own device data for HMRC's fraud prevention headers.

The CLI is a bridging tool run by an operator on their own machine, so it states the
`BATCH_PROCESS_DIRECT` connection method and sends what HMRC asks of it: a persistent device
id, local IPs and MAC addresses, time zone, operating system and the OS user, and its own
name and version. Values are percent-encoded as HMRC specifies.
"""

from __future__ import annotations

import getpass
import os
import platform
import socket
import uuid
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

PRODUCT = "mtdvat"
VERSION = "1.0.0"


def _pct(value: str) -> str:
    return quote(value, safe="")


def device_id(home: Path | None = None) -> str:
    """A random id kept in the user's config directory, the same on every run."""
    base = home or Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config"))
    path = base / "mtdvat" / "device-id"
    try:
        return str(uuid.UUID(path.read_text().strip()))
    except (OSError, ValueError):
        value = str(uuid.uuid4())
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(value)
        except OSError:
            pass  # a read-only home: the id lasts this run only
        return value


def local_ips() -> list[str]:
    found: list[str] = []
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None):
            address = str(info[4][0]).split("%")[0]
            if address not in found:
                found.append(address)
    except OSError:
        pass
    return found or ["127.0.0.1"]


def mac_address() -> str:
    node = uuid.getnode()
    return ":".join(f"{(node >> shift) & 0xFF:02x}" for shift in range(40, -1, -8))


def timezone() -> str:
    offset = datetime.now().astimezone().utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset else 0
    sign = "+" if minutes >= 0 else "-"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def headers() -> dict[str, str]:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + "000Z"
    system = platform.system() or "Linux"
    user_agent = {
        "os-family": system,
        "os-version": platform.release() or "unknown-release",
        "device-manufacturer": platform.machine() or "generic",
        "device-model": platform.node() or "workstation",
    }
    return {
        "Gov-Client-Connection-Method": "BATCH_PROCESS_DIRECT",
        "Gov-Client-Device-ID": device_id(),
        "Gov-Client-Local-IPs": ",".join(_pct(ip) for ip in local_ips()),
        "Gov-Client-Local-IPs-Timestamp": now,
        "Gov-Client-MAC-Addresses": _pct(mac_address()),
        "Gov-Client-Timezone": timezone(),
        "Gov-Client-User-Agent": "&".join(f"{k}={_pct(v)}" for k, v in user_agent.items()),
        "Gov-Client-User-IDs": f"os={_pct(getpass.getuser())}",
        "Gov-Vendor-Version": f"{PRODUCT}={VERSION}",
        "Gov-Vendor-License-IDs": f"{PRODUCT}={_pct(device_id())}",
        "Gov-Vendor-Product-Name": PRODUCT,
    }
