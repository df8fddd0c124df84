"""Settings of the auth service; environment variables start with `AUTH_`."""

from __future__ import annotations

from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from services.common.settings import ServiceSettings


class AuthSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="AUTH_")

    # The platform's application credentials at HMRC, used for the OAuth code exchange.
    hmrc_base_url: str
    hmrc_client_id: str
    hmrc_client_secret: SecretStr
