"""Settings of the Stripe plugin, read from the environment (or ``.env``).

* ``STRIPE_SECRET_KEY`` -- the platform account's secret key (``sk_live_...``/``sk_test_...``);
  without it the ``stripe`` provider refuses to start payments.
* ``STRIPE_PUBLISHABLE_KEY`` -- optional; handed to the buyer's browser with the
  ``client_secret`` so Stripe.js can confirm the payment.
* ``STRIPE_WEBHOOK_SECRET`` -- the signing secret of the platform's webhook endpoint
  (``whsec_...``); without it every webhook to the platform endpoint is refused.
* ``STRIPE_CONNECT_WEBHOOK_SECRET`` -- optional; the signing secret of the platform's
  Connect endpoint (events of connected accounts), when Stripe gave it its own secret. The
  platform endpoint accepts a signature by either secret.
* ``STRIPE_API_BASE`` -- default ``https://api.stripe.com``; tests point it at a stand-in.

Settings are read afresh on each use (no cache): they are only needed when a payment
starts or a webhook arrives, and tests change them between apps.
"""

from __future__ import annotations

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_API_BASE = "https://api.stripe.com"


class StripeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    secret_key: SecretStr | None = Field(
        None, validation_alias=AliasChoices("STRIPE_SECRET_KEY", "stripe_secret_key")
    )
    publishable_key: str | None = Field(
        None, validation_alias=AliasChoices("STRIPE_PUBLISHABLE_KEY", "stripe_publishable_key")
    )
    webhook_secret: SecretStr | None = Field(
        None, validation_alias=AliasChoices("STRIPE_WEBHOOK_SECRET", "stripe_webhook_secret")
    )
    connect_webhook_secret: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices(
            "STRIPE_CONNECT_WEBHOOK_SECRET", "stripe_connect_webhook_secret"
        ),
    )
    api_base: str = Field(
        DEFAULT_API_BASE, validation_alias=AliasChoices("STRIPE_API_BASE", "stripe_api_base")
    )

    def webhook_secrets(self) -> list[str]:
        """The secrets that may sign an event to the platform endpoint."""
        found = (self.webhook_secret, self.connect_webhook_secret)
        return [secret.get_secret_value() for secret in found if secret is not None]


def stripe_settings() -> StripeSettings:
    return StripeSettings()
