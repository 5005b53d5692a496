"""Settings of the orders plugin, read from the environment (or ``.env``)."""

from functools import lru_cache

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_PAYMENT_MINUTES = 30


class OrderSettings(BaseSettings):
    """``TICKETING_ORDER_PAYMENT_MINUTES``: how long a buyer has to pay a placed order
    (default 30); the order's holds keep their units that long, then simply expire."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    payment_minutes: float = Field(
        DEFAULT_PAYMENT_MINUTES,
        gt=0,
        le=7 * 24 * 60,
        validation_alias=AliasChoices(
            "TICKETING_ORDER_PAYMENT_MINUTES", "ticketing_order_payment_minutes"
        ),
    )


@lru_cache(maxsize=1)
def order_settings() -> OrderSettings:
    return OrderSettings()
