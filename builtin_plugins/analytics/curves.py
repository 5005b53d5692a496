"""Sales curves from the read model: net tickets per day, in days to the event.

An event's ``d = 0`` is the local day its first date starts (its ``starts_at`` in its
time zone); a sale on day ``x`` sits at ``d = (start day - x)``, so sales of events on
different dates line up. Past events are the organization's events that ended before
now and sold something, the latest :data:`MAX_PAST_EVENTS` of them.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.analytics.forecast import Curve
from builtin_plugins.analytics.models import SalesFigures
from builtin_plugins.events import Event

MAX_PAST_EVENTS = 50


@dataclass(frozen=True, slots=True)
class EventTimes:
    id: uuid.UUID
    timezone: str
    start_day: date
    ends_at: datetime
    currency: str

    def days_to_event(self, at: datetime) -> int:
        return (self.start_day - at.astimezone(ZoneInfo(self.timezone)).date()).days


async def event_times(
    session: AsyncSession, organization_id: uuid.UUID, event_id: uuid.UUID
) -> EventTimes | None:
    """The organization's event's clock, or ``None`` (another tenant's or no event)."""
    row = (
        await session.execute(
            select(Event.id, Event.timezone, Event.starts_at, Event.ends_at, Event.currency).where(
                Event.id == event_id, Event.organization_id == organization_id
            )
        )
    ).one_or_none()
    return None if row is None else _times(row)


def _times(row) -> EventTimes:
    start_day = row.starts_at.astimezone(ZoneInfo(row.timezone)).date()
    return EventTimes(row.id, row.timezone, start_day, row.ends_at, row.currency)


_NET = func.sum(SalesFigures.tickets_sold - SalesFigures.tickets_refunded)


async def sales_curve(
    session: AsyncSession, organization_id: uuid.UUID, event: EventTimes
) -> dict[int, int]:
    rows = await session.execute(
        select(SalesFigures.day, _NET)
        .where(
            SalesFigures.organization_id == organization_id,
            SalesFigures.event_id == event.id,
        )
        .group_by(SalesFigures.day)
    )
    return {(event.start_day - day).days: int(net) for day, net in rows if net}


async def past_curves(
    session: AsyncSession, organization_id: uuid.UUID, *, now: datetime, exclude: uuid.UUID
) -> list[Curve]:
    """Curves of the organization's latest past events with sales."""
    sold = (
        select(SalesFigures.event_id)
        .where(SalesFigures.organization_id == organization_id)
        .distinct()
        .scalar_subquery()
    )
    events = [
        _times(row)
        for row in await session.execute(
            select(Event.id, Event.timezone, Event.starts_at, Event.ends_at, Event.currency)
            .where(
                Event.organization_id == organization_id,
                Event.ends_at < now,
                Event.id != exclude,
                Event.id.in_(sold),
            )
            .order_by(Event.starts_at.desc())
            .limit(MAX_PAST_EVENTS)
        )
    ]
    if not events:
        return []
    by_id = {event.id: event for event in events}
    curves: dict[uuid.UUID, dict[int, int]] = defaultdict(dict)
    rows = await session.execute(
        select(SalesFigures.event_id, SalesFigures.day, _NET)
        .where(
            SalesFigures.organization_id == organization_id,
            SalesFigures.event_id.in_(list(by_id)),
        )
        .group_by(SalesFigures.event_id, SalesFigures.day)
    )
    for event_id, day, net in rows:
        if net:
            curves[event_id][(by_id[event_id].start_day - day).days] = int(net)
    return [curves[event.id] for event in events if curves[event.id]]
