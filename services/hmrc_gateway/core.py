"""The gateway's parts, wired once per process: HMRC client, governor, breakers, auth,
fraud header builder and validator, audit. Routes reach it as `app.state.gateway`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from services.common.database import Database
from services.common.service import Runtime
from services.hmrc_gateway import device_data, fraud_headers
from services.hmrc_gateway.auth_client import AuthClient, TokenSource
from services.hmrc_gateway.breaker import Breakers
from services.hmrc_gateway.device_data import DeviceData
from services.hmrc_gateway.exchange import CallContext, Exchanger, Policy
from services.hmrc_gateway.exchange_audit import ExchangeAudit
from services.hmrc_gateway.fraud_headers import ConnectionFacts, UserFacts, Vendor
from services.hmrc_gateway.fraud_validation import (
    ValidationResult,
    Validator,
    enforce,
    spec_rules,
)
from services.hmrc_gateway.governor import Governor, Priority
from services.hmrc_gateway.hmrc_client import GROUPS, HmrcClient
from services.hmrc_gateway.models import FraudHeaderCheck
from services.hmrc_gateway.settings import HmrcGatewaySettings


@dataclass
class PreparedHeaders:
    headers: dict[str, str]
    validation: ValidationResult
    connection_method: str


class Gateway:
    def __init__(
        self,
        settings: HmrcGatewaySettings,
        *,
        validator: Validator = spec_rules,
        tokens: TokenSource | None = None,
    ) -> None:
        self.settings = settings
        self.validator = validator
        assert settings.database_url is not None, "the gateway needs its database"
        self.governor = Governor(
            settings.database_url.get_secret_value(),
            replica_id=settings.replica_id,
            interval=settings.grant_interval,
            poll_interval=settings.governor_poll_interval,
            wait_timeout=settings.governor_wait_timeout,
        )
        self.breakers = Breakers(
            list(GROUPS), settings.breaker_failure_threshold, settings.breaker_open_seconds
        )
        secret = settings.client_secret.get_secret_value() if settings.client_secret else None
        self.auth = AuthClient(
            settings.auth_url,
            settings.client_id,
            secret,
            token_ttl=settings.hmrc_token_ttl_seconds,
        )
        self.tokens: TokenSource = tokens or self.auth
        self.vendor = Vendor.configure(
            settings.vendor_ip,
            settings.product_name,
            settings.server_software_name,
            settings.product_version,
            settings.trusted_proxies,
        )
        self.client: HmrcClient | None = None
        self.exchanger: Exchanger | None = None
        self.db: Database | None = None

    async def start(self, runtime: Runtime) -> None:
        s = self.settings
        self.db = runtime.database()
        self.client = HmrcClient(
            s.hmrc_base_url,
            connect_timeout=s.connect_timeout,
            timeouts={"read_timeout": s.read_timeout, "submit_timeout": s.submit_timeout},
            max_connections=s.max_connections,
        )
        self.exchanger = Exchanger(
            self.client,
            self.governor,
            self.breakers,
            self.tokens,
            ExchangeAudit(self.db, runtime.relay),
            Policy(
                get_attempts=s.get_attempts,
                backoff_base=s.backoff_base_seconds,
                backoff_max=s.backoff_max_seconds,
                throttle_pause=s.throttle_pause_seconds,
                wait_timeout=s.governor_wait_timeout,
            ),
        )

    async def stop(self) -> None:
        if self.client is not None:
            await self.client.aclose()
        await self.auth.aclose()
        await self.governor.close()

    def calls(self) -> Exchanger:
        assert self.exchanger is not None, "the gateway has not started"
        return self.exchanger

    # -- fraud prevention headers ------------------------------------------------------------
    async def prepare_headers(
        self,
        device: DeviceData,
        *,
        tenant_id: str,
        vrn: str | None,
        user_id: str | None,
        facts: ConnectionFacts | None,
        enforce_mode: bool = True,
    ) -> PreparedHeaders:
        user: UserFacts | None = None
        if user_id:
            doc = await self.tokens.fraud_facts(user_id)
            user = fraud_headers.user_facts(doc) if doc else None
        headers = fraud_headers.build(
            device, self.vendor, tenant_id=tenant_id, facts=facts, user=user
        )
        validation = self.validator(device.connection_method, headers)
        mode = self.settings.fraud_header_mode
        refused = mode == "strict" and bool(validation.errors)
        await self.record_check(
            tenant_id, vrn, device.connection_method, "local", validation, sent=not refused
        )
        if enforce_mode:
            enforce(mode, validation)
        return PreparedHeaders(headers, validation, device.connection_method)

    async def record_check(
        self,
        tenant_id: str | None,
        vrn: str | None,
        method: str,
        source: str,
        validation: ValidationResult,
        *,
        sent: bool,
    ) -> None:
        if self.db is None:
            return
        import uuid

        async with self.db.transaction() as session:
            session.add(
                FraudHeaderCheck(
                    id=uuid.uuid4(),
                    tenant_id=tenant_id,
                    vrn=vrn,
                    connection_method=method,
                    source=source,
                    mode=self.settings.fraud_header_mode,
                    result=validation.result,
                    sent=sent,
                    errors=validation.errors,
                    warnings=validation.warnings,
                )
            )

    def context(
        self,
        tenant_id: str,
        vrn: str,
        priority: Priority,
        prepared: PreparedHeaders,
        **extra: Any,
    ) -> CallContext:
        return CallContext(tenant_id, vrn, priority, fraud=prepared.validation, **extra)

    def status(self) -> dict[str, Any]:
        return {
            "breakers": self.breakers.describe(),
            "governor": {
                "replica_id": self.governor.replica_id,
                "dispatcher": self.governor.is_dispatcher,
                "listening": self.governor.listening.is_set(),
                "rate_per_second": self.settings.rate_per_second,
                "safety_factor": self.settings.rate_safety_factor,
            },
            "fraud_header_mode": self.settings.fraud_header_mode,
        }


def parse_device(
    json_object: Mapping[str, object] | None, headers: Mapping[str, str]
) -> DeviceData:
    return device_data.parse(json_object, headers)


def now() -> datetime:
    return datetime.now(UTC)
