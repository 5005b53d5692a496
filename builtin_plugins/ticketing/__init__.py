"""Ticketing: tickets with signed QR codes, their documents, check-in at the door, transfers."""

from pathlib import Path

from sdk import Availability, Permission, PluginCategory, PluginMetadata, hookimpl

METADATA = PluginMetadata(
    slug="ticketing",
    name="Ticketing",
    version="0.1.0",
    category=PluginCategory.TICKETING,
    availability=Availability.REQUIRED,
    depends_on=("events", "identity"),
    description="Tickets with offline-verifiable QR codes, PDFs, check-in lists and transfers.",
)


@hookimpl
def ticketing_permissions():
    return (
        Permission(
            "tickets:manage",
            "Issue, void and transfer tickets; ticket settings and signing keys; set up "
            "check-in lists and undo scans",
            ("organizer",),
        ),
        Permission(
            "tickets:checkin",
            "Scan tickets at the door, sync offline scanners, watch live counts",
            ("organizer", "door_staff"),
        ),
    )


@hookimpl
def ticketing_orm_models():
    from builtin_plugins.ticketing import models

    return [
        models.TicketSigningKey,
        models.TicketIssue,
        models.Ticket,
        models.CheckinList,
        models.TicketCheckin,
        models.TicketTransfer,
        models.TicketSettings,
        models.EventTicketSettings,
    ]


@hookimpl
def ticketing_migration_location():
    return str(Path(__file__).parent / "migrations")


@hookimpl
def ticketing_api_routers():
    from builtin_plugins.ticketing import (
        checkin_router,
        guest_router,
        guest_transfers_router,
        keys_router,
        my_tickets_router,
        ticket_settings_router,
        tickets_router,
        transfers_router,
    )

    return [
        *tickets_router.routers,
        *my_tickets_router.routers,
        *keys_router.routers,
        *ticket_settings_router.routers,
        *transfers_router.routers,
        *guest_transfers_router.routers,
        *checkin_router.routers,
        *guest_router.routers,
    ]


# The builtin printable ticket answers last, so any layout plugin can restyle tickets.
@hookimpl(trylast=True)
async def ticketing_layout_render(request):
    import asyncio

    from builtin_plugins.ticketing import layout_pdf

    return await asyncio.to_thread(layout_pdf.render, request)  # CPU work off the event loop


@hookimpl(trylast=True)
async def ticketing_ticket_holder(event_id, user_id, session):
    from builtin_plugins.ticketing.tickets_service import holds_ticket_for

    return await holds_ticket_for(session, event_id=event_id, user_id=user_id)


@hookimpl(trylast=True)
async def ticketing_order_tickets(order, session, with_pdf, ctx):
    from builtin_plugins.ticketing import guest_tickets

    return await guest_tickets.answer(ctx.kernel, session, order, with_pdf=with_pdf)


@hookimpl
async def ticketing_seed(session, seed):
    from builtin_plugins.ticketing.seed import seed_demo_tickets

    await seed_demo_tickets(session, organization_id=seed.organization_id)


# An order's tickets, in the orders plugin's transactions (it never reads these tables).
@hookimpl
async def ticketing_order_paid(order, session):
    from builtin_plugins.ticketing import order_tickets

    return await order_tickets.issue_paid(session, order)


@hookimpl
async def ticketing_order_refunded(tickets, session):
    from builtin_plugins.ticketing import order_tickets

    return await order_tickets.void_units(session, tickets)


@hookimpl
async def ticketing_order_voided(tickets, session):
    from builtin_plugins.ticketing import order_tickets

    return await order_tickets.void_order(session, tickets)


@hookimpl(trylast=True)
async def ticketing_order_ticket_states(order_id, session):
    from builtin_plugins.ticketing import order_tickets

    return await order_tickets.states(session, order_id)
