"""Auth as its own process (`python -m services.auth`), as the stack runs it, so a test can
read exactly what the service writes to its log."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

from services.auth.settings import AuthSettings
from services.stack.embedded import free_port
from tests.auth.conftest import AuthApi, settings_env


@asynccontextmanager
async def auth_process(settings: AuthSettings, log_file: Path) -> AsyncIterator[AuthApi]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTH_")}
    env.update(settings_env(settings))
    env.update(AUTH_PORT=str(port), AUTH_LOG_LEVEL="DEBUG", PYTHONUNBUFFERED="1")
    url = f"http://127.0.0.1:{port}"
    with log_file.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "services.auth"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            async with asyncio.timeout(30):
                while True:
                    assert proc.poll() is None, f"auth exited; see {log_file}"
                    try:
                        if (await http.get("/readyz")).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    await asyncio.sleep(0.1)
            yield AuthApi(url=url, app=None, settings=settings, http=http)
    finally:
        proc.terminate()
        proc.wait(15)
