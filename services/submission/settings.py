"""Settings of the submission service; environment variables start with `SUBMISSION_`."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from services.common.settings import ServiceSettings


class SubmissionSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SUBMISSION_")
