"""What other plugins read of the catalog: small frozen records of events and ticket
types, each list read with one indexed query, so they need not query this plugin's tables."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.events.models import Event, EventStatus, TicketType, Visibility


@dataclass(frozen=True, slots=True)
class EventSummary:
    """An event as other plugins see it: its state, currency and venue (for tax)."""

    id: uuid.UUID
    organization_id: uuid.UUID
    status: EventStatus
    currency: str
    venue_country: str | None
    venue_region: str | None


@dataclass(frozen=True, slots=True)
class TicketTypeSummary:
    id: uuid.UUID
    organization_id: uuid.UUID
    event_id: uuid.UUID
    currency: str
    visibility: Visibility


async def event_summary(
    session: AsyncSession, *, organization_id: uuid.UUID, event_id: uuid.UUID
) -> EventSummary | None:
    """The organization's event, or ``None`` when it has no such event."""
    row = (
        await session.execute(
            select(
                Event.id, Event.organization_id, Event.status, Event.currency, Event.address
            ).where(Event.id == event_id, Event.organization_id == organization_id)
        )
    ).one_or_none()
    if row is None:
        return None
    address = row.address or {}
    return EventSummary(
        id=row.id,
        organization_id=row.organization_id,
        status=row.status,
        currency=row.currency,
        venue_country=address.get("country"),
        venue_region=address.get("region"),
    )


async def ticket_type_summaries(
    session: AsyncSession,
    ticket_type_ids: Iterable[uuid.UUID],
    *,
    organization_id: uuid.UUID | None = None,
    event_id: uuid.UUID | None = None,
) -> dict[uuid.UUID, TicketTypeSummary]:
    """Those of ``ticket_type_ids`` that exist (within the organization and the event,
    when given), by id; an unknown id is simply absent."""
    ids = set(ticket_type_ids)
    if not ids:
        return {}
    query = select(
        TicketType.id,
        TicketType.organization_id,
        TicketType.event_id,
        TicketType.currency,
        TicketType.visibility,
    ).where(TicketType.id.in_(ids))
    if organization_id is not None:
        query = query.where(TicketType.organization_id == organization_id)
    if event_id is not None:
        query = query.where(TicketType.event_id == event_id)
    return {
        row.id: TicketTypeSummary(
            id=row.id,
            organization_id=row.organization_id,
            event_id=row.event_id,
            currency=row.currency,
            visibility=row.visibility,
        )
        for row in await session.execute(query)
    }
