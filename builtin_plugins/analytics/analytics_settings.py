"""Settings of the analytics plugin, read from the environment (or ``.env``)."""

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from sdk import env_var

DEFAULT_MIN_GROUP_SIZE = 5


class AnalyticsSettings(BaseSettings):
    """``TICKETING_ANALYTICS_MIN_GROUP_SIZE``: the smallest group of people the
    demographics report shows (default 5); a request may ask for more, never fewer."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    min_group_size: int = Field(
        DEFAULT_MIN_GROUP_SIZE,
        ge=2,
        le=1000,
        validation_alias=env_var("TICKETING_ANALYTICS_MIN_GROUP_SIZE"),
    )


@lru_cache(maxsize=1)
def analytics_settings() -> AnalyticsSettings:
    return AnalyticsSettings()
