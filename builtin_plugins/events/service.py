"""The demo event ``ticketing seed`` creates: a festival whose two ticket types share seats.

"Day pass" (1000 of its own) and "VIP" (100 of its own) both draw on the shared pool
"Main arena" of 500: once 500 tickets of either kind are held or sold, both are sold out.
"""

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.events.inventory._pools import create_shared_pool, set_ticket_type_capacity
from builtin_plugins.events.models import (
    Event,
    EventDate,
    EventStatus,
    InventoryPool,
    PoolKind,
    TicketType,
)

DEMO_EVENT_SLUG = "demo-festival"
DEMO_TICKET_TYPES = (
    # name, price in minor units, own capacity, description
    ("Day pass", 4500, 1000, "Entry to both stages for the day."),
    ("VIP", 12000, 100, "Day pass plus the VIP deck and a drink."),
)
DEMO_SHARED_POOL = ("Main arena", 500)


async def seed_demo_event(session: AsyncSession, *, organization_id: uuid.UUID) -> Event:
    """A published festival two months ahead, with one date, two ticket types and a
    shared pool of 500 both draw on. Idempotent: what exists is left as it is."""
    event = await session.scalar(
        select(Event).where(Event.organization_id == organization_id, Event.slug == DEMO_EVENT_SLUG)
    )
    if event is None:
        starts_at = (datetime.now(UTC) + timedelta(days=60)).replace(
            hour=17, minute=0, second=0, microsecond=0
        )
        event = Event(
            id=uuid.uuid4(),
            organization_id=organization_id,
            slug=DEMO_EVENT_SLUG,
            title="Demo Festival",
            description="<p>Two stages, one night.</p>",
            starts_at=starts_at,
            ends_at=starts_at + timedelta(hours=7),
            timezone="Europe/Berlin",
            currency="EUR",
            status=EventStatus.PUBLISHED,
            published_at=datetime.now(UTC),
            venue_name="Demo Arena",
        )
        session.add(event)
        await session.flush()
    has_date = await session.scalar(select(EventDate.id).where(EventDate.event_id == event.id))
    if has_date is None:
        session.add(
            EventDate(
                organization_id=organization_id,
                event_id=event.id,
                starts_at=event.starts_at,
                ends_at=event.ends_at,
            )
        )
        await session.flush()

    members = []
    for position, (name, price, capacity, description) in enumerate(DEMO_TICKET_TYPES):
        ticket_type = await session.scalar(
            select(TicketType).where(TicketType.event_id == event.id, TicketType.name == name)
        )
        if ticket_type is None:
            ticket_type = TicketType(
                id=uuid.uuid4(),
                organization_id=organization_id,
                event_id=event.id,
                name=name,
                description=description,
                price_amount=price,
                currency=event.currency,
                position=position,
                max_per_order=10,
            )
            session.add(ticket_type)
            await session.flush()
            await set_ticket_type_capacity(session, ticket_type=ticket_type, capacity=capacity)
        members.append(ticket_type.id)

    pool_name, pool_capacity = DEMO_SHARED_POOL
    pool = await session.scalar(
        select(InventoryPool.id).where(
            InventoryPool.event_id == event.id,
            InventoryPool.kind == PoolKind.SHARED,
            InventoryPool.name == pool_name,
        )
    )
    if pool is None:
        await create_shared_pool(
            session,
            organization_id=organization_id,
            event_id=event.id,
            name=pool_name,
            capacity=pool_capacity,
            ticket_type_ids=members,
        )
    await session.flush()
    return event
