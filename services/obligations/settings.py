"""Settings of the obligations service; environment variables start with `OBLIGATIONS_`."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from services.common.settings import ServiceSettings


class ObligationsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="OBLIGATIONS_")
