"""Settings of the orders plugin, read from the environment (or ``.env``)."""

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from sdk import env_var

DEFAULT_PAYMENT_MINUTES = 30
DEFAULT_LINK_DAYS = 30
DEFAULT_EXPIRY_SWEEP_SECONDS = 30


class OrderSettings(BaseSettings):
    """``TICKETING_ORDER_PAYMENT_MINUTES``: how long a buyer has to pay a placed order
    (default 30); the order's holds keep their units that long, then simply expire.

    ``TICKETING_ORDER_LINK_SECRET`` signs the order links emailed to buyers (generated
    locally when unset, required in production); a link opens its order until
    ``TICKETING_ORDER_LINK_DAYS`` (default 30) days after the event ends.

    ``TICKETING_ORDER_EXPIRY_SWEEP_SECONDS``: how often the job ``orders.expire-overdue``
    expires the unpaid orders past their deadline that nobody read (default 30)."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    payment_minutes: float = Field(
        DEFAULT_PAYMENT_MINUTES,
        gt=0,
        le=7 * 24 * 60,
        validation_alias=env_var("TICKETING_ORDER_PAYMENT_MINUTES"),
    )
    link_secret: str | None = Field(
        None, min_length=32, validation_alias=env_var("TICKETING_ORDER_LINK_SECRET")
    )
    link_days: int = Field(
        DEFAULT_LINK_DAYS, ge=1, le=3650, validation_alias=env_var("TICKETING_ORDER_LINK_DAYS")
    )
    # 0: no periodic sweep (expiry still happens when a buyer or a reader meets it)
    expiry_sweep_seconds: int = Field(
        DEFAULT_EXPIRY_SWEEP_SECONDS,
        ge=0,
        le=24 * 3600,
        validation_alias=env_var("TICKETING_ORDER_EXPIRY_SWEEP_SECONDS"),
    )


@lru_cache(maxsize=1)
def order_settings() -> OrderSettings:
    return OrderSettings()
