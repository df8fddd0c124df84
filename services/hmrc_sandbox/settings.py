"""Settings of the hmrc_sandbox service; environment variables start with `HMRC_SANDBOX_`."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from services.common.settings import ServiceSettings


class HmrcSandboxSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="HMRC_SANDBOX_")
