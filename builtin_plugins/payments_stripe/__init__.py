"""Stripe PaymentIntents as a payment provider (key ``stripe``), per organization.

An organization is paid through its own Stripe account, a connected account of the
platform, or the platform's account (see :mod:`.accounts`, managed over
:mod:`.account_router` with ``payments:manage``). :mod:`.provider` starts payments and
refunds on the organization's account; :mod:`.webhook` applies Stripe's outcomes exactly
once; :mod:`.balance` lists the account's balance transactions and payouts for
reconciliation; :mod:`.settings` holds the platform's ``STRIPE_*`` environment.
"""

from pathlib import Path

from builtin_plugins.payments_stripe.provider import StripeProvider
from sdk import Permission, PluginCategory, PluginMetadata, hookimpl

METADATA = PluginMetadata(
    slug="payments-stripe",
    name="Stripe",
    version="0.2.0",
    category=PluginCategory.PAYMENTS,
    description="Card and wallet payments with Stripe PaymentIntents, settled by webhook.",
)

_PROVIDER = StripeProvider()


@hookimpl
def ticketing_payment_providers():
    return [_PROVIDER]


@hookimpl
async def ticketing_provider_movements(provider, since, until, ctx):
    if provider != _PROVIDER.key:
        return None
    from builtin_plugins.payments_stripe.balance import movements

    return await movements(ctx.kernel, ctx.organization_id, since, until)


@hookimpl
def ticketing_permissions():
    return (
        Permission(
            "payments:manage", "Choose the Stripe account that takes payments", ("organizer",)
        ),
    )


@hookimpl
def ticketing_orm_models():
    from builtin_plugins.payments_stripe import models

    return [models.StripeEvent, models.StripeAccount]


@hookimpl
def ticketing_migration_location():
    return str(Path(__file__).parent / "migrations")


@hookimpl
def ticketing_api_routers():
    from builtin_plugins.payments_stripe import account_router, webhook

    return [*webhook.routers, *account_router.routers]


@hookimpl
async def ticketing_plugin_purge(organization_id, session):
    from builtin_plugins.payments_stripe.purge import purge

    await purge(session, organization_id)
