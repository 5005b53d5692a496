"""Event commands."""

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.events.models import Event, EventStatus, TicketType
from builtin_plugins.events.repository import EventRepository, TicketTypeRepository

DEMO_EVENT_SLUG = "demo-festival"
DEMO_TICKET_TYPES = (("General admission", 4500, 500), ("VIP", 12000, 50))


async def seed_demo_event(session: AsyncSession, *, organization_id: uuid.UUID) -> Event:
    """A published festival, two months ahead, with two ticket types; idempotent."""
    events = EventRepository(session, organization_id)
    event = await events.by_slug(DEMO_EVENT_SLUG)
    if event is None:
        starts_at = (datetime.now(UTC) + timedelta(days=60)).replace(
            hour=17, minute=0, second=0, microsecond=0
        )
        event = events.add(
            Event(
                slug=DEMO_EVENT_SLUG,
                title="Demo Festival",
                description="Two stages, one night.",
                starts_at=starts_at,
                ends_at=starts_at + timedelta(hours=7),
                timezone="Europe/Berlin",
                currency="EUR",
                status=EventStatus.PUBLISHED,
            )
        )
        await session.flush()
    ticket_types = TicketTypeRepository(session, organization_id)
    for name, price, capacity in DEMO_TICKET_TYPES:
        if await ticket_types.by_name(event.id, name) is None:
            ticket_types.add(
                TicketType(
                    event_id=event.id,
                    name=name,
                    price_amount=price,
                    currency="EUR",
                    capacity=capacity,
                )
            )
    await session.flush()
    return event
