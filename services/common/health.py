"""Liveness (`/healthz`: the process answers) and readiness (`/readyz`: dependencies answer)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from services.common.errors import problem_response

Check = Callable[[], Awaitable[None]]

router = APIRouter(tags=["health"])


async def run_checks(checks: Mapping[str, Check], timeout: float) -> dict[str, str]:
    async def one(check: Check) -> str:
        try:
            await asyncio.wait_for(check(), timeout)
        except TimeoutError:
            return f"timed out after {timeout:g}s"
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return "ok"

    names = list(checks)
    results = await asyncio.gather(*(one(checks[n]) for n in names))
    return dict(zip(names, results, strict=True))


@router.get("/healthz", summary="Liveness: the process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: the database and broker answer")
async def readyz(request: Request) -> JSONResponse:
    runtime = request.app.state.runtime
    results = await run_checks(runtime.readiness_checks(), runtime.settings.readiness_timeout)
    details = {"details": runtime.readiness_details()} if runtime.readiness_details else {}
    if all(v == "ok" for v in results.values()):
        return JSONResponse({"status": "ready", "checks": results, **details})
    return problem_response(
        503,
        "NOT_READY",
        "A dependency is not reachable: "
        + ", ".join(f"{k} ({v})" for k, v in results.items() if v != "ok"),
        checks=results,
        **details,
    )
