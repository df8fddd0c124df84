"""The read side, apart from HTTP: check who may read, pick the freshness policy, read
through the cache, and add what the platform knows (submitted-awaiting-HMRC)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx

from services.common.database import Database
from services.common.errors import ProblemError
from services.common.security.jwt_verify import Principal
from services.obligations import due, freshness, submitted
from services.obligations.cache import Cache, CacheKey
from services.obligations.freshness import Answer
from services.obligations.gateway_client import GatewayClient
from services.obligations.memo import Memo
from services.obligations.params import ObligationsQuery
from services.obligations.settings import ObligationsSettings
from services.obligations.tenancy import Connections, tenant_of


@dataclass(frozen=True)
class Caller:
    """Who asks, with what they pass on: their token (for auth) and device data (for HMRC)."""

    principal: Principal
    token: str
    device: Mapping[str, str]

    @property
    def tenant_id(self) -> str:
        return tenant_of(self.principal)

    @property
    def scenario(self) -> dict[str, str]:
        # Sandbox answers differ per scenario, so the scenario is part of the cache key.
        value = self.device.get("Gov-Test-Scenario") or self.device.get("gov-test-scenario")
        return {"scenario": value} if value else {}


@dataclass(frozen=True)
class Read:
    body: dict[str, Any]
    answer: Answer
    ttl: float

    def json(self) -> dict[str, Any]:
        return {**self.body, "freshness": freshness.describe(self.answer, self.ttl)}

    def headers(self) -> dict[str, str]:
        return freshness.headers(self.answer, self.ttl)


class Reads:
    def __init__(self, settings: ObligationsSettings, db: Callable[[], Database]) -> None:
        self.settings = settings
        self.db = db
        auth_url = (settings.auth_url or "http://auth.invalid").rstrip("/")
        self.auth_http = httpx.AsyncClient(base_url=auth_url, timeout=5.0)
        secret = settings.client_secret.get_secret_value() if settings.client_secret else None
        self.gateway = GatewayClient(
            settings.hmrc_gateway_url,
            self.auth_http,
            settings.client_id,
            secret,
            settings.gateway_timeout,
        )
        self.connections = Connections(self.auth_http, settings.connections_ttl_seconds)
        memo_ttl = settings.memo_ttl_seconds
        self.cache = Cache(db, lock_timeout=settings.refresh_lock_timeout, memo_ttl=memo_ttl)
        self.marks_memo: Memo[Any] = Memo(memo_ttl)

    async def aclose(self) -> None:
        await self.gateway.aclose()
        await self.auth_http.aclose()

    async def _read(
        self, caller: Caller, vrn: str, kind: str, params: dict[str, str], ttl: float, force: bool
    ) -> Answer:
        tenant = caller.tenant_id
        key = CacheKey(tenant, vrn, kind, {**params, **caller.scenario})
        after = None
        if kind == "obligations":
            all_open = params == {"status": "O"}
            after = submitted.clearer(tenant, vrn, all_open=all_open)

        async def fetch() -> Any:
            return await self.gateway.get(kind, tenant, vrn, params, caller.device)

        return await self.cache.read(key, fetch, ttl=ttl, force=force, after_store=after)

    async def obligations(
        self, caller: Caller, vrn: str, query: ObligationsQuery, *, force: bool
    ) -> Read:
        await self.connections.check(caller.principal, caller.token, vrn)
        ttl = self.settings.obligations_ttl_seconds
        answer = await self._read(caller, vrn, "obligations", query.as_params(), ttl, force)
        body = await self._annotated(caller.tenant_id, vrn, answer.body)
        return Read(body, answer, ttl)

    async def _annotated(self, tenant: str, vrn: str, body: dict[str, Any]) -> dict[str, Any]:
        obligations = [dict(o) for o in body.get("obligations", [])]
        found: dict[Any, Any] = {}
        # Marks matter only for open periods; skip the query when there are none.
        if any(o.get("status") == "O" for o in obligations):
            found = await submitted.awaiting(self.db(), tenant, [vrn], self.marks_memo)
        submitted.annotate(vrn, obligations, found)
        return {**body, "obligations": obligations}

    async def financial(
        self, caller: Caller, vrn: str, kind: str, params: dict[str, str], *, force: bool
    ) -> Read:
        await self.connections.check(caller.principal, caller.token, vrn)
        ttl = self.settings.financial_ttl_seconds
        answer = await self._read(caller, vrn, kind, params, ttl, force)
        return Read(answer.body, answer, ttl)

    async def due(
        self, caller: Caller, within_days: int, today: date, *, force: bool
    ) -> dict[str, Any]:
        vrns = sorted(await self.connections.vrns(caller.principal, caller.token))
        ttl = self.settings.obligations_ttl_seconds
        open_query = {"status": "O"}
        results = await asyncio.gather(
            *(self._read(caller, v, "obligations", open_query, ttl, force) for v in vrns),
            return_exceptions=True,
        )
        items: list[due.DueItem] = []
        errors: list[dict[str, Any]] = []
        sources: list[dict[str, Any]] = []
        marks = await submitted.awaiting(self.db(), caller.tenant_id, vrns) if vrns else {}
        for vrn, result in zip(vrns, results, strict=True):
            if isinstance(result, ProblemError):
                # One VRN's trouble (e.g. HMRC NOT_FOUND, reauthorisation) must not hide the rest.
                errors.append({"vrn": vrn, "status": result.status, "code": result.code})
                continue
            if isinstance(result, BaseException):
                raise result
            obligations = [dict(o) for o in result.body.get("obligations", [])]
            submitted.annotate(vrn, obligations, marks)
            items += due.due_within(vrn, obligations, today, within_days)
            sources.append({"vrn": vrn, **freshness.describe(result, ttl)})
        return {
            "today": today.isoformat(),
            "within_days": within_days,
            "due": [i.as_json(today) for i in due.ordered(items)],
            "errors": errors,
            "freshness": sources,
        }
