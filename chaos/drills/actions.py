"""chaostoolkit actions (python provider): the faults, each ended before it returns, and a
restore that puts everything back whatever happened."""

from __future__ import annotations

import time

import httpx

from chaos.drills.context import current
from services.stack.launcher import APPS


def _sandbox(method: str, path: str, body: object | None = None) -> None:
    url = current().env["HMRC_SANDBOX_URL"] + path
    httpx.request(method, url, json=body, timeout=10).raise_for_status()


def sigkill_service(name: str, down_seconds: float = 2.0) -> dict[str, object]:
    """SIGKILL one service; start it again after `down_seconds`, as a kubelet would."""
    ctx = current()
    ctx.fault_begins()
    pid = ctx.stack.kill_app(name)
    time.sleep(down_seconds)
    ctx.fault_ends()
    ctx.stack.start_app(name, wait=False)
    return {"killed_pid": pid}


def restart_nats(wipe: bool = False) -> None:
    """Restart NATS; with `wipe`, SIGKILL it and delete its whole JetStream store first."""
    ctx = current()
    ctx.fault_begins()
    ctx.stack.restart_nats(wipe=wipe)
    ctx.fault_ends()


def restart_postgres(mode: str = "fast") -> None:
    ctx = current()
    ctx.fault_begins()
    ctx.stack.restart_postgres(mode)
    ctx.fault_ends()


def hmrc_outage(seconds: float = 60.0, status: int = 503) -> None:
    """Every HMRC endpoint answers `status` for `seconds`."""
    ctx = current()
    ctx.fault_begins()
    seconds = float(seconds)  # from the experiment's configuration
    _sandbox("PUT", "/control/outage", {"seconds": seconds, "status": int(status)})
    time.sleep(seconds)
    _sandbox("DELETE", "/control/outage")
    ctx.fault_ends()


def hmrc_faults(faults: dict[str, dict[str, object]], seconds: float = 30.0) -> None:
    """Per-endpoint faults (see services/hmrc_sandbox/faults.py) for `seconds`."""
    ctx = current()
    ctx.fault_begins()
    for endpoint, fault in faults.items():
        _sandbox("PUT", f"/control/faults/{endpoint}", fault)
    time.sleep(float(seconds))  # from the experiment's configuration
    _sandbox("DELETE", "/control/faults")
    ctx.fault_ends()


def restore() -> None:
    """Rollback: no HMRC fault, NATS and PostgreSQL up, every service running."""
    ctx = current()
    if not ctx.stack.postgres().running():
        ctx.stack.postgres().start()
    if not ctx.stack.nats().running():
        ctx.stack.nats().start()
    for app in APPS:
        if ctx.stack.app_pid(app.name) is None:
            ctx.stack.start_app(app.name)
    _sandbox("DELETE", "/control/faults")
