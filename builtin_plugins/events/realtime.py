"""Live ticket availability: what each replica pushes to browsers watching an event.

Whoever changes inventory publishes the new numbers after committing, through the
availability feed (:mod:`builtin_plugins.events.availability_feed`); every replica's SSE
and WebSocket clients of that event get them through the pub/sub (Redis across replicas).
A new watcher first receives :func:`availability_snapshot`, the inventory's own numbers.

Availability shown here is a hint for buyers; holds and checkout decide on the pool rows.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.events.availability_feed import (
    Availability,
    availability_channel,
    availability_message,
    publish_availability,
)
from builtin_plugins.events.inventory import public_availability
from builtin_plugins.events.models import Event, EventDate, EventStatus

__all__ = [
    "Availability",
    "availability_channel",
    "availability_message",
    "availability_snapshot",
    "date_ids",
    "is_published",
    "publish_availability",
]


async def is_published(session: AsyncSession, event_id: uuid.UUID) -> bool:
    status = await session.scalar(select(Event.status).where(Event.id == event_id))
    return status == EventStatus.PUBLISHED


async def date_ids(session: AsyncSession, event_id: uuid.UUID) -> list[uuid.UUID]:
    return list(await session.scalars(select(EventDate.id).where(EventDate.event_id == event_id)))


async def availability_snapshot(
    session: AsyncSession, event_id: uuid.UUID, *, event_date_id: uuid.UUID | None = None
) -> dict[uuid.UUID, int | None]:
    """Units left of each public ticket type of the event, ``None`` when nothing limits it.

    The same numbers :func:`builtin_plugins.events.inventory.availability` gives (expired
    holds count as free; without a date, a single date is used and a series answers its
    best date), so a new subscriber's first message agrees with the updates that follow.
    """
    found = await public_availability(session, event_id=event_id, event_date_id=event_date_id)
    return {ticket_type_id: entry.available for ticket_type_id, entry in found.items()}
