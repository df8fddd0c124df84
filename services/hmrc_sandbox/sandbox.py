"""The simulator's core: state, clock, identifiers, rate limiter, faults and counters, with
start-up (load from PostgreSQL) and reset. Routers reach it as `request.app.state.sandbox`."""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta
from typing import Any

from services.common.database import Database
from services.common.logging import get_logger
from services.hmrc_sandbox.clock import Clock, Ids
from services.hmrc_sandbox.counters import Counters
from services.hmrc_sandbox.faults import EndpointFault, Faults, Outage
from services.hmrc_sandbox.rate_limit import RateLimiter
from services.hmrc_sandbox.records import Application, digest
from services.hmrc_sandbox.settings import HmrcSandboxSettings
from services.hmrc_sandbox.store import Persistence, State

log = get_logger(__name__)

CONTROL_KIND = "control"
CONTROL_KEY = "config"
# Requests kept per application for the fraud prevention validation feedback.
FEEDBACK_DEPTH = 20


class Sandbox:
    def __init__(self, settings: HmrcSandboxSettings) -> None:
        self.settings = settings
        self.state = State()
        self.persistence: Persistence | None = None
        self.clock = Clock(settings.fixed_clock)
        self.ids = Ids(settings.seed)
        self.faults = Faults(self.ids)
        self.rate_limiter = RateLimiter()
        self.counters = Counters()
        self.default_rate = settings.rate_limit_per_second
        # HMRC documents no Retry-After on 429; tests can ask for one to exercise callers.
        self.throttle_retry_after: int | None = None
        self.fulfilment_lag = timedelta(seconds=settings.fulfilment_lag_seconds)
        # Recent VAT API requests' Gov-* headers per application (validated when asked for).
        self.fraud_feedback: dict[str, deque[dict[str, Any]]] = {}
        # Refresh tokens being exchanged right now (HMRC refuses a concurrent refresh).
        self.refreshing: set[str] = set()

    @property
    def store(self) -> Persistence:
        assert self.persistence is not None, "the simulator has not started"
        return self.persistence

    async def start(self, db: Database) -> None:
        self.persistence = Persistence(db)
        self.state.load(await self.persistence.load())
        self._apply_control(self.state.documents.get((CONTROL_KIND, CONTROL_KEY)))
        await self.register_configured_application()
        log.info(
            "simulator state loaded",
            applications=len(self.state.applications),
            test_users=len(self.state.users),
            returns=len(self.state.returns),
        )

    async def register_configured_application(self) -> None:
        """The platform's own application (HMRC_SANDBOX_CLIENT_ID / _CLIENT_SECRET)."""
        settings = self.settings
        if settings.client_id is None or settings.client_secret is None:
            return
        app = Application(
            client_id=settings.client_id,
            secret_digests=[digest(settings.client_secret.get_secret_value())],
            name="platform",
            redirect_uris=list(settings.redirect_uris),
        )
        existing = self.state.applications.get(app.client_id)
        if existing != app:
            await self.store.put(app)
            self.state.add(app)

    def rate_for(self, client_id: str) -> float:
        app = self.state.applications.get(client_id)
        if app is not None and app.rate_limit is not None:
            return app.rate_limit
        return self.default_rate

    # -- control configuration (persisted so a restart keeps a drill's set-up) ------------------
    def control_document(self) -> dict[str, Any]:
        return {
            "clock": {
                "fixed": self.clock.fixed.isoformat() if self.clock.fixed else None,
                "offsetSeconds": self.clock.offset.total_seconds(),
            },
            "seed": self.ids.seed,
            "rateLimitPerSecond": self.default_rate,
            "throttleRetryAfterSeconds": self.throttle_retry_after,
            "fulfilmentLagSeconds": self.fulfilment_lag.total_seconds(),
            "faults": {k: v.model_dump() for k, v in self.faults.endpoints.items()},
            "outage": self.faults.outage.model_dump(mode="json") if self.faults.outage else None,
        }

    def _apply_control(self, doc: dict[str, Any] | None) -> None:
        if not doc:
            return
        clock = doc.get("clock") or {}
        fixed = clock.get("fixed")
        self.clock.set(
            datetime.fromisoformat(fixed) if fixed else None,
            timedelta(seconds=float(clock.get("offsetSeconds") or 0)),
        )
        if doc.get("seed") is not None:
            self.ids.reseed(int(doc["seed"]))
        self.default_rate = float(doc.get("rateLimitPerSecond") or self.default_rate)
        retry_after = doc.get("throttleRetryAfterSeconds")
        self.throttle_retry_after = int(retry_after) if retry_after is not None else None
        self.fulfilment_lag = timedelta(seconds=float(doc.get("fulfilmentLagSeconds") or 0))
        self.faults.endpoints = {
            k: EndpointFault.model_validate(v) for k, v in (doc.get("faults") or {}).items()
        }
        outage = doc.get("outage")
        self.faults.outage = Outage.model_validate(outage) if outage else None

    async def save_control(self) -> None:
        doc = self.control_document()
        await self.store.put_doc(CONTROL_KIND, CONTROL_KEY, doc)
        self.state.documents[(CONTROL_KIND, CONTROL_KEY)] = doc

    async def reset(self) -> None:
        """Forget everything (state, faults, counters) except the configured application."""
        await self.store.clear()
        self.state = State()
        self.clock = Clock(self.settings.fixed_clock)
        self.ids.reseed(self.settings.seed)
        self.faults.clear()
        self.rate_limiter.reset()
        self.counters.reset()
        self.default_rate = self.settings.rate_limit_per_second
        self.fulfilment_lag = timedelta(seconds=self.settings.fulfilment_lag_seconds)
        self.fraud_feedback.clear()
        self.refreshing.clear()
        await self.register_configured_application()
