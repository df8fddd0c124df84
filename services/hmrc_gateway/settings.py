"""Settings of the hmrc_gateway service; environment variables start with `HMRC_GATEWAY_`."""

from __future__ import annotations

import os
import socket
from ipaddress import ip_address, ip_network
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from services.common.settings import ServiceSettings

# RFC 5737 documentation address: fine for a laptop, refused anywhere HMRC would see it.
DEVELOPMENT_VENDOR_IP = "203.0.113.6"


def _default_replica_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class HmrcGatewaySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="HMRC_GATEWAY_")

    hmrc_base_url: str
    # Required here: the gateway signs in to auth and asks it for HMRC access tokens.
    auth_url: str

    # -- the auth service: HMRC access tokens, fraud facts, and who may call us --------------
    # Role a caller of the internal API must hold.
    service_role: str = "platform_service"
    # This service's own API client at auth (role platform_service).
    client_id: str = "hmrc_gateway"
    # Seconds an HMRC access token from auth is reused for one (tenant, VRN); 0: ask each
    # time. Bounds how long a disconnected VRN can still be served.
    hmrc_token_ttl_seconds: float = Field(default=30.0, ge=0, le=300)

    # -- fraud prevention headers ------------------------------------------------------------
    # The public IP HMRC sees our requests come from (load balancer / NAT), never a client's.
    vendor_public_ip: str | None = None
    product_name: str = "MTD VAT Platform"
    product_version: str = "1.0.0"
    # Key under which the platform's own version goes into Gov-Vendor-Version.
    server_software_name: str = "mtd-vat-gateway"
    # Proxies whose Forwarded / X-Forwarded-For we believe (CIDRs).
    trusted_proxies: list[str] = Field(default_factory=lambda: ["127.0.0.1/32", "::1/128"])
    # strict: refuse to call HMRC with header errors; advisory: call and record.
    fraud_header_mode: Literal["strict", "advisory"] = "strict"
    # Also ask HMRC's Test Fraud Prevention Headers API after each call (sandbox only).
    fraud_header_feedback: bool = False

    # -- rate governor ---------------------------------------------------------------------
    rate_per_second: float = Field(default=3.0, gt=0)
    rate_safety_factor: float = Field(default=0.95, gt=0, le=1)
    # Seconds a caller waits for a slot before it is told to come back later.
    governor_wait_timeout: float = Field(default=60.0, gt=0)
    # Fallback poll when a grant notification is lost.
    governor_poll_interval: float = Field(default=1.0, gt=0)
    replica_id: str = Field(default_factory=_default_replica_id)
    # Pause when HMRC answers 429 without Retry-After.
    throttle_pause_seconds: float = Field(default=1.0, gt=0)

    # -- retries, timeouts, circuit breaker ------------------------------------------------
    get_attempts: int = Field(default=4, ge=1, le=10)
    backoff_base_seconds: float = Field(default=0.2, gt=0)
    backoff_max_seconds: float = Field(default=5.0, gt=0)
    connect_timeout: float = Field(default=3.0, gt=0)
    read_timeout: float = Field(default=10.0, gt=0)
    submit_timeout: float = Field(default=30.0, gt=0)
    max_connections: int = Field(default=50, ge=1)
    breaker_failure_threshold: int = Field(default=5, ge=1)
    # Short enough that work resumes soon after HMRC recovers (one probe per group per
    # period is cheap at 3/s); the breaker reopens at once if the probe fails.
    breaker_open_seconds: float = Field(default=10.0, gt=0)

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for cidr in value:
            ip_network(cidr, strict=False)
        return value

    @field_validator("vendor_public_ip")
    @classmethod
    def _public_ip(cls, value: str | None) -> str | None:
        if value is not None:
            ip_address(value)
        return value

    @model_validator(mode="after")
    def _required_outside_development(self) -> HmrcGatewaySettings:
        if self.environment == "production":
            if self.vendor_public_ip is None:
                raise ValueError("HMRC_GATEWAY_VENDOR_PUBLIC_IP is required in production")
            if self.client_secret is None:
                raise ValueError("HMRC_GATEWAY_CLIENT_SECRET is required in production")
        return self

    @property
    def vendor_ip(self) -> str:
        return self.vendor_public_ip or DEVELOPMENT_VENDOR_IP

    @property
    def grant_interval(self) -> float:
        """Seconds between two grants: the rate with its safety margin."""
        return 1.0 / (self.rate_per_second * self.rate_safety_factor)
