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
    from builtin_plugins.events.models import Event, TicketType

    return [Event, TicketType]


@hookimpl
def ticketing_migration_location():
    return str(Path(__file__).parent / "migrations")


@hookimpl
def ticketing_api_routers():
    from builtin_plugins.events.router import router

    return [router]


@hookimpl
async def ticketing_seed(session, seed):
    from builtin_plugins.events.service import seed_demo_event

    await seed_demo_event(session, organization_id=seed.organization_id)
