"""Settings of the hmrc_gateway service; environment variables start with `HMRC_GATEWAY_`."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from services.common.settings import ServiceSettings


class HmrcGatewaySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="HMRC_GATEWAY_")

    hmrc_base_url: str
