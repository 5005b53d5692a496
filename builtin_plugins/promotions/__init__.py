"""Promotions: promo codes that discount lines and unlock hidden ticket types.

Hook implementations only; see :mod:`.pricing` (discounts and unlocking),
:mod:`.redemption` (checkout and release) and :mod:`.router` (the organizer API).
"""

from pathlib import Path

from sdk import Permission, PluginCategory, PluginMetadata, hookimpl

METADATA = PluginMetadata(
    slug="promotions",
    name="Promo codes",
    version="0.1.0",
    category=PluginCategory.MARKETING,
    depends_on=("events",),
    description="Percentage or fixed discounts, usage limits, codes that unlock ticket types.",
    settings_schema={
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Promo codes",
        "type": "object",
        "properties": {
            "max_discount_percent": {
                "type": "integer",
                "minimum": 0,
                "maximum": 100,
                "description": "No code takes more than this percentage off a ticket's price "
                "(quote, cart and checkout alike); unset: no cap.",
            }
        },
        "additionalProperties": False,
    },
)


@hookimpl
def ticketing_permissions():
    return (Permission("promotions:manage", "Create and change promo codes", ("organizer",)),)


@hookimpl
def ticketing_orm_models():
    from builtin_plugins.promotions import models

    return [models.PromoCode, models.PromoRedemption]


@hookimpl
def ticketing_migration_location():
    return str(Path(__file__).parent / "migrations")


@hookimpl
def ticketing_api_routers():
    from builtin_plugins.promotions import router

    return [router.router]


@hookimpl
async def ticketing_seed(session, seed):
    from builtin_plugins.promotions.service import seed_demo_code

    await seed_demo_code(session, organization_id=seed.organization_id)


@hookimpl
def ticketing_event_subscriptions():
    from builtin_plugins.promotions.redemption import RELEASING_TOPICS, release
    from sdk import Subscription

    return [Subscription(topic, "promotions.release", release) for topic in RELEASING_TOPICS]


# Plain functions that hand back a coroutine only when a code was typed: the normal
# buying path gets its answer without a coroutine or a lookup.
@hookimpl
def ticketing_pricing_adjusters(context, ctx):
    if not context.promo_code:
        return []
    from builtin_plugins.promotions.pricing import adjusters_for

    return adjusters_for(
        ctx.kernel.lookups, context, max_percent=ctx.settings.get("max_discount_percent")
    )


@hookimpl
async def ticketing_pricing_unlocked_ticket_types(organization_id, event_id, promo_code, ctx):
    from builtin_plugins.promotions.pricing import unlocked_by

    return await unlocked_by(ctx.kernel.lookups, organization_id, event_id, promo_code)


@hookimpl
def ticketing_checkout_validate(cart, ctx):
    if not cart.promo_code:
        return None
    from builtin_plugins.promotions.redemption import vetoes

    return vetoes(ctx.kernel.lookups, cart)


@hookimpl
async def ticketing_checkout_before_order_placed(order, session, ctx):
    from builtin_plugins.promotions.redemption import redeem, require_unlocked

    await require_unlocked(ctx.kernel.hooks, session, order)
    await redeem(session, order)


@hookimpl
async def ticketing_plugin_purge(organization_id, session):
    from builtin_plugins.promotions.purge import purge

    await purge(session, organization_id)
