"""Settings of the webhooks plugin; README's settings table documents each."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from sdk import env_var


class WebhookSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    retry_base_seconds: float = Field(
        60, gt=0, le=3600, validation_alias=env_var("TICKETING_WEBHOOK_RETRY_BASE_SECONDS")
    )
    retry_max_seconds: float = Field(
        6 * 3600, gt=0, le=86400, validation_alias=env_var("TICKETING_WEBHOOK_RETRY_MAX_SECONDS")
    )
    max_attempts: int = Field(
        10, ge=1, le=50, validation_alias=env_var("TICKETING_WEBHOOK_MAX_ATTEMPTS")
    )
    timeout_seconds: float = Field(
        10, gt=0, le=60, validation_alias=env_var("TICKETING_WEBHOOK_TIMEOUT_SECONDS")
    )
    disable_after_failures: int = Field(
        20, ge=1, le=10_000, validation_alias=env_var("TICKETING_WEBHOOK_DISABLE_AFTER_FAILURES")
    )
    disable_after_seconds: float = Field(
        24 * 3600,
        ge=0,
        le=30 * 86400,
        validation_alias=env_var("TICKETING_WEBHOOK_DISABLE_AFTER_SECONDS"),
    )
    poll_seconds: float = Field(
        1.0, gt=0, le=60, validation_alias=env_var("TICKETING_WEBHOOK_POLL_SECONDS")
    )
    lease_seconds: float = Field(
        60, ge=1, le=3600, validation_alias=env_var("TICKETING_WEBHOOK_LEASE_SECONDS")
    )
    retention_days: float = Field(
        30, ge=1, le=3650, validation_alias=env_var("TICKETING_WEBHOOK_RETENTION_DAYS")
    )
    concurrency: int = Field(
        10, ge=1, le=100, validation_alias=env_var("TICKETING_WEBHOOK_CONCURRENCY")
    )

    def retry_delay(self, attempts: int) -> timedelta:
        """After the ``attempts``-th failed attempt: base, doubling, capped."""
        seconds = self.retry_base_seconds * 2 ** max(attempts - 1, 0)
        return timedelta(seconds=min(seconds, self.retry_max_seconds))
