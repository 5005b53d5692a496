"""Stripe PaymentIntents as a payment provider (key ``stripe``), on the platform's account.

See :mod:`.provider` (starting payments, refunds), :mod:`.webhook` (Stripe's outcomes,
exactly once) and :mod:`.settings` (``STRIPE_SECRET_KEY``, ``STRIPE_PUBLISHABLE_KEY``,
``STRIPE_WEBHOOK_SECRET``, ``STRIPE_API_BASE``). Every organization is paid through the
platform's keys for now; per-organization keys (Connect or their own, encrypted at rest
with the kernel's encryptor) are a later step.
"""

from pathlib import Path

from builtin_plugins.payments_stripe.provider import StripeProvider
from kernel.markers import hookimpl
from kernel.plugin_metadata import PluginCategory, PluginMetadata

METADATA = PluginMetadata(
    slug="payments-stripe",
    name="Stripe",
    version="0.1.0",
    category=PluginCategory.PAYMENTS,
    description="Card and wallet payments with Stripe PaymentIntents, settled by webhook.",
)

_PROVIDER = StripeProvider()


@hookimpl
def ticketing_payment_providers():
    return [_PROVIDER]


@hookimpl
def ticketing_orm_models():
    from builtin_plugins.payments_stripe import models

    return [models.StripeEvent]


@hookimpl
def ticketing_migration_location():
    return str(Path(__file__).parent / "migrations")


@hookimpl
def ticketing_api_routers():
    from builtin_plugins.payments_stripe import webhook

    return webhook.routers
