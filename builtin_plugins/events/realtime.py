"""Live ticket availability: what each replica pushes to browsers watching an event.

Whoever changes inventory publishes the new numbers after committing, with
:func:`publish_availability`; every replica's SSE and WebSocket clients of that event get
them through the pub/sub (Redis across replicas). A new watcher first receives
:func:`availability_snapshot`, read straight from the pools.

Availability shown here is a hint for buyers; holds and checkout decide on the pool rows.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.events.models import (
    Event,
    EventDate,
    EventStatus,
    InventoryPool,
    PoolHold,
    PoolKind,
    PoolMember,
    TicketType,
    Visibility,
)
from kernel.context import Kernel
from kernel.pubsub import PubSubError

logger = logging.getLogger(__name__)

Availability = Mapping[uuid.UUID, int | None]


def availability_channel(event_id: uuid.UUID) -> str:
    return f"availability:{event_id}"


def availability_message(
    event_id: uuid.UUID, availability: Availability, *, at: datetime | None = None
) -> str:
    """``{"event_id", "ticket_types": {id: available or null for unlimited}, "at"}`` as JSON."""
    at = at or datetime.now(UTC)
    return json.dumps(
        {
            "event_id": str(event_id),
            "ticket_types": {
                str(ticket_type_id): available for ticket_type_id, available in availability.items()
            },
            "at": at.isoformat().replace("+00:00", "Z"),
        },
        separators=(",", ":"),
    )


async def publish_availability(
    kernel: Kernel, *, event_id: uuid.UUID, availability: Availability
) -> None:
    """Push new availability of some of an event's ticket types to everyone watching.

    Call it after the change committed. Best effort: when the broker is unreachable the
    failure is logged and the caller's (already committed) change stands; watchers that
    missed it get the current state when they reconnect.
    """
    try:
        await kernel.pubsub.publish(
            availability_channel(event_id), availability_message(event_id, availability)
        )
    except PubSubError:
        logger.warning(
            "could not publish availability", exc_info=True, extra={"event_id": str(event_id)}
        )


async def is_published(session: AsyncSession, event_id: uuid.UUID) -> bool:
    status = await session.scalar(select(Event.status).where(Event.id == event_id))
    return status == EventStatus.PUBLISHED


async def availability_snapshot(
    session: AsyncSession, event_id: uuid.UUID, *, event_date_id: uuid.UUID | None = None
) -> dict[uuid.UUID, int | None]:
    """Units left of each public ticket type of the event, ``None`` when nothing limits it.

    A type's availability is the least room left (``capacity - sold - held``, units of
    expired holds nobody reclaimed yet counting as free) among the pools that apply to it:
    the event's and the date's pools, its own pool and the shared pools it belongs to.
    Pools of no date always apply; dated pools apply on their date. Without
    ``event_date_id`` an event with one date uses it, and a series answers its best date.
    """
    ticket_types = list(
        await session.scalars(
            select(TicketType.id).where(
                TicketType.event_id == event_id, TicketType.visibility == Visibility.PUBLIC
            )
        )
    )
    dates = list(await session.scalars(select(EventDate.id).where(EventDate.event_id == event_id)))
    if event_date_id is None and len(dates) == 1:
        event_date_id = dates[0]
    expired_held = (
        select(func.coalesce(func.sum(PoolHold.quantity), 0))
        .where(PoolHold.pool_id == InventoryPool.id, PoolHold.expires_at <= func.now())
        .scalar_subquery()
    )
    pools = (
        await session.execute(
            select(
                InventoryPool.id,
                InventoryPool.kind,
                InventoryPool.event_date_id,
                InventoryPool.ticket_type_id,
                InventoryPool.capacity - InventoryPool.sold - InventoryPool.held + expired_held,
            ).where(InventoryPool.event_id == event_id)
        )
    ).all()
    members = set(
        (
            await session.execute(
                select(PoolMember.pool_id, PoolMember.ticket_type_id)
                .join(InventoryPool, InventoryPool.id == PoolMember.pool_id)
                .where(InventoryPool.event_id == event_id)
            )
        ).all()
    )

    def least(ticket_type_id: uuid.UUID, date_id: uuid.UUID | None) -> int | None:
        room = [
            max(0, int(left))
            for pool_id, kind, pool_date_id, pool_type_id, left in pools
            if pool_date_id == date_id
            and (
                kind in (PoolKind.EVENT, PoolKind.DATE)
                or pool_type_id == ticket_type_id
                or (pool_id, ticket_type_id) in members
            )
        ]
        return min(room) if room else None

    snapshot: dict[uuid.UUID, int | None] = {}
    for ticket_type_id in ticket_types:
        if event_date_id is not None:
            dated = least(ticket_type_id, event_date_id)
        else:  # several dates, none named: the best one (a date no pool limits is unlimited)
            per_date = [least(ticket_type_id, date_id) for date_id in dates]
            dated = None if not per_date or None in per_date else max(per_date)
        limits = [x for x in (least(ticket_type_id, None), dated) if x is not None]
        snapshot[ticket_type_id] = min(limits) if limits else None
    return snapshot
