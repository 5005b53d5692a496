"""Settings of the promotions plugin, read from the environment (or ``.env``)."""

from functools import lru_cache

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class PromotionSettings(BaseSettings):
    """``TICKETING_PROMOTIONS_POOL_SIZE``: connections of the plugin's own small pool for
    reading codes while pricing and validating (default 5, as many again on overflow)."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    pool_size: int = Field(
        5,
        ge=1,
        le=100,
        validation_alias=AliasChoices(
            "TICKETING_PROMOTIONS_POOL_SIZE", "ticketing_promotions_pool_size"
        ),
    )


@lru_cache(maxsize=1)
def promotion_settings() -> PromotionSettings:
    return PromotionSettings()
