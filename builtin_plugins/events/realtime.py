"""Live ticket availability: what each replica pushes to browsers watching an event.

Whoever changes inventory publishes the new numbers after committing, with
:func:`publish_availability`; every replica's SSE and WebSocket clients of that event get
them through the pub/sub (Redis across replicas). A new watcher first receives
:func:`availability_snapshot`, the inventory's own numbers.

Availability shown here is a hint for buyers; holds and checkout decide on the pool rows.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.events.models import (
    Event,
    EventDate,
    EventStatus,
)
from sdk import Kernel
from sdk.live import PubSubError

logger = logging.getLogger(__name__)

Availability = Mapping[uuid.UUID, int | None]


def availability_channel(event_id: uuid.UUID) -> str:
    return f"availability:{event_id}"


def availability_message(
    event_id: uuid.UUID,
    availability: Availability,
    *,
    event_date_id: uuid.UUID | None = None,
    at: datetime | None = None,
) -> str:
    """``{"event_id", "date_id", "ticket_types": {id: available or null for unlimited},
    "at"}`` as JSON. ``date_id`` names the date the numbers are for; ``null`` means the
    event as a whole (for a series: what its best date still has)."""
    at = at or datetime.now(UTC)
    return json.dumps(
        {
            "event_id": str(event_id),
            "date_id": str(event_date_id) if event_date_id else None,
            "ticket_types": {
                str(ticket_type_id): available for ticket_type_id, available in availability.items()
            },
            "at": at.isoformat().replace("+00:00", "Z"),
        },
        separators=(",", ":"),
    )


async def publish_availability(
    kernel: Kernel,
    *,
    event_id: uuid.UUID,
    availability: Availability,
    event_date_id: uuid.UUID | None = None,
) -> None:
    """Push new availability of some of an event's ticket types (on ``event_date_id``, the
    date that changed) to everyone watching.

    Call it after the change committed. Best effort: when the broker is unreachable the
    failure is logged and the caller's (already committed) change stands; watchers that
    missed it get the current state when they reconnect.
    """
    try:
        await kernel.pubsub.publish(
            availability_channel(event_id),
            availability_message(event_id, availability, event_date_id=event_date_id),
        )
    except PubSubError:
        logger.warning(
            "could not publish availability", exc_info=True, extra={"event_id": str(event_id)}
        )


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
    from builtin_plugins.events.inventory import public_availability

    found = await public_availability(session, event_id=event_id, event_date_id=event_date_id)
    return {ticket_type_id: entry.available for ticket_type_id, entry in found.items()}
