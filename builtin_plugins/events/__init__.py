"""Events: what organizers sell tickets for, and the ticket types on sale."""

from pathlib import Path

from kernel.contracts import Permission
from kernel.markers import hookimpl
from kernel.plugin_metadata import PluginCategory, PluginMetadata

METADATA = PluginMetadata(
    slug="events",
    name="Events",
    version="0.1.0",
    category=PluginCategory.TICKETING,
    required=True,
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


# TEMPORARY while the catalog is being built in parallel: modules that do not exist yet
# are skipped. Replaced by explicit imports once they all exist.
ROUTER_MODULES = (
    "events_router",
    "media_router",
    "ticket_types_router",
    "holds_router",
    "pricing_router",
    "realtime_router",
)


@hookimpl
def ticketing_api_routers():
    import importlib

    routers = []
    for name in ROUTER_MODULES:
        try:
            module = importlib.import_module(f"builtin_plugins.events.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"builtin_plugins.events.{name}":
                raise
            continue
        routers.extend(getattr(module, "routers", None) or [module.router])
    return routers


@hookimpl
async def ticketing_seed(session, seed):
    from builtin_plugins.events.service import seed_demo_event

    await seed_demo_event(session, organization_id=seed.organization_id)
