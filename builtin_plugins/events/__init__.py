"""Events: what organizers sell tickets for, and the ticket types on sale.

This module is the plugin's public face; other plugins import from here and from
:mod:`builtin_plugins.events.inventory` (holds, sales, availability), never from the
plugin's other modules. What it offers them:

* the catalog's rows, **read-only to other plugins** (they may read and join them in
  their own queries; only this plugin writes them): :class:`Event`, :class:`EventDate`,
  :class:`TicketType` and the enums :class:`EventStatus`, :class:`Visibility`;
* :func:`event_summary`, :func:`ticket_type_summaries`: frozen records of events and
  ticket types (:class:`EventSummary`, :class:`TicketTypeSummary`), for plugins that
  only check or read a few fields;
* :func:`get_event`: an organization's event, or 404;
* :func:`event_catalog`: an event with its ticket types and dates, cached per process
  and checked against ``catalog_version`` (:class:`EventCatalog`, read-only), and
  :func:`touch_catalog` for a plugin that caches per-event data by that version;
* :func:`quote` and :func:`adjustment_view`: a line priced through the pricing hooks, and
  one adjustment as the API shows it;
* :data:`CartToken`, :data:`PromoCode`: the request field types of a cart and a code;
* :func:`seed_demo_event`: the demo event other plugins' demo data builds on.
"""

from pathlib import Path

from builtin_plugins.events.catalog import (
    EventSummary,
    TicketTypeSummary,
    event_summary,
    ticket_type_summaries,
)
from builtin_plugins.events.catalog_cache import EventCatalog, event_catalog, touch_catalog
from builtin_plugins.events.models import Event, EventDate, EventStatus, TicketType, Visibility
from builtin_plugins.events.pricing import adjustment_view, quote
from builtin_plugins.events.service import seed_demo_event
from builtin_plugins.events.ticket_schemas import CartToken, PromoCode
from builtin_plugins.events.ticket_types_service import get_event
from sdk import Availability, Permission, PluginCategory, PluginMetadata, hookimpl

METADATA = PluginMetadata(
    slug="events",
    name="Events",
    version="0.1.0",
    category=PluginCategory.TICKETING,
    availability=Availability.REQUIRED,
    description="Events, their dates and the ticket types sold for them.",
)

__all__ = [
    "METADATA",
    "CartToken",
    "Event",
    "EventDate",
    "EventCatalog",
    "EventStatus",
    "EventSummary",
    "PromoCode",
    "TicketType",
    "TicketTypeSummary",
    "Visibility",
    "adjustment_view",
    "event_catalog",
    "event_summary",
    "get_event",
    "quote",
    "seed_demo_event",
    "ticket_type_summaries",
    "touch_catalog",
]


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
def ticketing_jobs():
    from builtin_plugins.events import expiry_jobs

    return expiry_jobs.jobs()


@hookimpl
async def ticketing_startup(kernel):
    """Platform-wide categories exist in every deployment, not only seeded ones."""
    from builtin_plugins.events.categories import seed_categories

    async with kernel.database.transaction() as session:
        await seed_categories(session)


@hookimpl
async def ticketing_seed(session, seed):
    await seed_demo_event(session, organization_id=seed.organization_id)


# Pricing: the catalog's list price is the base price of every line nobody else prices.
@hookimpl(trylast=True)
def ticketing_pricing_base_price(context):
    from builtin_plugins.events.pricing import catalog_base_price

    return catalog_base_price(context)
