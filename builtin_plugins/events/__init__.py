"""Events: what organizers sell tickets for, and the ticket types on sale."""

from pathlib import Path

from sdk import Availability, Permission, PluginCategory, PluginMetadata, hookimpl

METADATA = PluginMetadata(
    slug="events",
    name="Events",
    version="0.1.0",
    category=PluginCategory.TICKETING,
    availability=Availability.REQUIRED,
    description="Events, their dates and the ticket types sold for them.",
)


@hookimpl
def ticketing_permissions():
    return (
        Permission("events:create", "Create events and ticket types", ("organizer",)),
        Permission("events:edit", "Change events and ticket types", ("organizer",)),
        Permission("events:publish", "Publish, complete and cancel events", ("organizer",)),
    )


@hookimpl
def ticketing_orm_models():
    from builtin_plugins.events import models

    return [
        models.Category,
        models.Event,
        models.EventDate,
        models.EventImage,
        models.TicketType,
        models.InventoryPool,
        models.PoolMember,
        models.InventoryHold,
        models.PoolHold,
    ]


@hookimpl
def ticketing_migration_location():
    return str(Path(__file__).parent / "migrations")


@hookimpl
def ticketing_api_routers():
    from builtin_plugins.events import (
        events_router,
        holds_router,
        media_router,
        pricing_router,
        realtime_router,
        ticket_types_router,
    )

    return [
        *events_router.routers,
        *ticket_types_router.routers,
        holds_router.router,
        *media_router.routers,
        pricing_router.router,
        realtime_router.router,
    ]


@hookimpl
async def ticketing_startup(kernel):
    """Platform-wide categories exist in every deployment, not only seeded ones."""
    from builtin_plugins.events.categories import seed_categories

    async with kernel.database.transaction() as session:
        await seed_categories(session)


@hookimpl
async def ticketing_seed(session, seed):
    from builtin_plugins.events.service import seed_demo_event

    await seed_demo_event(session, organization_id=seed.organization_id)


# Pricing: the catalog's list price is the base price of every line nobody else prices.
@hookimpl(trylast=True)
def ticketing_pricing_base_price(context):
    from builtin_plugins.events.pricing import catalog_base_price

    return catalog_base_price(context)
