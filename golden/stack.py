"""The local stack the dataset runs against, wired so the gateway calls HMRC through the
recording proxy.

The stack lets a setting in the environment override its own wiring, so the gateway is
started with `HMRC_GATEWAY_HMRC_BASE_URL` set to the proxy. A stack that is already running
(started by `make up`) has its gateway restarted that way for the run and restored after.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from golden.proxy import RecordingProxy
from golden.report import say
from services.stack.embedded import free_port
from services.stack.launcher import APPS, Stack

GATEWAY = "hmrc_gateway"
OVERRIDE = "HMRC_GATEWAY_HMRC_BASE_URL"
WIRING_FILE = "golden.json"  # the proxy port the running gateway was started with
# A stack the runner starts itself hashes secrets at the cost tests use (auth allows it in
# development only): each scenario creates an API client and signs it in.
FAST_HASHING = {"AUTH_ARGON2_TIME_COST": "1", "AUTH_ARGON2_MEMORY_COST_KIB": "8192"}


@dataclass(frozen=True)
class Running:
    env: dict[str, str]
    proxy: RecordingProxy
    root: Path
    secrets: dict[str, str]  # the services' own client secrets, from stack.json


def _read_env(root: Path) -> dict[str, str]:
    lines = (root / "stack.env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line)


def _quietly(action: Callable[[], object]) -> None:
    """Run a stack action without its progress table; show it when the action fails."""
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            action()
    except BaseException:
        sys.stdout.write(out.getvalue())
        raise


def _up(stack: Stack, proxy_url: str | None, fast: bool = False) -> None:
    """`Stack.up` with the gateway's HMRC URL overridden (or not), quietly."""
    saved = dict(os.environ)
    os.environ.pop(OVERRIDE, None)
    if proxy_url is not None:
        os.environ[OVERRIDE] = proxy_url
    if fast:
        for key, value in FAST_HASHING.items():
            os.environ.setdefault(key, value)
    try:
        _quietly(stack.up)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _wired_port(stack: Stack, wiring: Path) -> int | None:
    """The proxy port the running gateway was started with by an earlier run (--keep-stack);
    None when the gateway was started some other way (e.g. `make up`) since."""
    gateway = stack.app_pid(GATEWAY)
    if gateway is None or not wiring.exists():
        return None
    recorded = json.loads(wiring.read_text())
    return int(recorded["proxy_port"]) if recorded.get("gateway_pid") == gateway else None


@contextlib.contextmanager
def running_stack(keep: bool = False) -> Iterator[Running]:
    """The stack in MTD_LOCAL_DIR (a fresh temporary one when unset), wired to a proxy."""
    given = os.environ.get("MTD_LOCAL_DIR")
    root = Path(given or tempfile.mkdtemp(prefix="golden-stack-")).resolve()
    stack = Stack(root)
    wiring = root / WIRING_FILE
    was_running = any(stack.app_pid(app.name) is not None for app in APPS)
    prior = _wired_port(stack, wiring)
    restore = was_running and prior is None
    if restore:
        say(f"stack     restarting {GATEWAY} in {root} to call HMRC through the proxy")
        stack.stop_app(GATEWAY)
    else:
        say(f"stack     {'using' if was_running else 'starting'} {root}")
    port = prior or free_port()
    proxy = RecordingProxy(port)
    proxy.start()
    try:
        _up(stack, proxy.url, fast=not was_running)
        stack = Stack(root)  # re-read the ports it chose
        wiring.write_text(json.dumps({"proxy_port": port, "gateway_pid": stack.app_pid(GATEWAY)}))
        proxy.recorder.target = stack.app_url("hmrc_sandbox")
        secrets: dict[str, str] = stack.state.get("secrets", {})
        yield Running(_read_env(root), proxy, root, secrets)
    finally:
        proxy.stop()
        if keep:
            say(f"stack     left running in {root}")
        elif restore:
            say(f"stack     restoring {GATEWAY} to call the simulator directly")
            stack.stop_app(GATEWAY)
            wiring.unlink(missing_ok=True)
            _up(stack, None)
        elif not was_running:
            _quietly(stack.down)
            wiring.unlink(missing_ok=True)
            if not given:
                shutil.rmtree(root, ignore_errors=True)
