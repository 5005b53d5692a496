"""What one ``ticket.*`` domain event adds to the ticket activity counters.

Like the sales counters these only ever add (an undone check-in adds ``-1``), so
arrival order does not matter and a replay gives the same totals. Each is counted on the
day it happened in the event's time zone, on the event date the payload names
(:data:`.models.NO_DATE` when it names none).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.analytics.models import NO_DATE, TICKET_COUNTERS, TicketActivity
from builtin_plugins.analytics.sales_deltas import local_day
from builtin_plugins.events import Event
from sdk.outbox import DomainEvent

# topic -> (counter, how much one event adds per ticket)
TICKET_TOPICS = {
    "ticket.issued": ("tickets_issued", 1),
    "ticket.voided": ("tickets_voided", 1),
    "ticket.transferred": ("tickets_transferred", 1),
    "ticket.checked_in": ("tickets_checked_in", 1),
    "ticket.checkin_undone": ("tickets_checked_in", -1),
}


def ticket_delta(topic: str, payload: dict) -> tuple[uuid.UUID, uuid.UUID, str, int]:
    """(event id, event date id, counter, amount) one event adds; pure."""
    counter, sign = TICKET_TOPICS[topic]
    tickets = len(payload.get("ticket_ids") or ()) if topic == "ticket.issued" else 1
    date_id = payload.get("event_date_id")
    return (
        uuid.UUID(str(payload["event_id"])),
        uuid.UUID(str(date_id)) if date_id else NO_DATE,
        counter,
        sign * tickets,
    )


async def add_ticket_events(
    session: AsyncSession, organization_id: uuid.UUID, events: Sequence[DomainEvent]
) -> None:
    """Upsert what ``events`` add, summed per row, in one statement (an event whose
    catalog event went with a purge adds nothing)."""
    if not events:
        return
    deltas = [ticket_delta(event.topic, event.payload) for event in events]
    found = await session.execute(
        select(Event.id, Event.timezone).where(
            Event.organization_id == organization_id,
            Event.id.in_({event_id for event_id, *_ in deltas}),
        )
    )
    timezones = dict(found.all())
    rows: dict[tuple[uuid.UUID, uuid.UUID, date], dict[str, int]] = {}
    for event, (event_id, date_id, counter, amount) in zip(events, deltas, strict=True):
        if event_id not in timezones or amount == 0:
            continue
        key = (event_id, date_id, local_day(event.occurred_at, timezones[event_id]))
        counters = rows.setdefault(key, dict.fromkeys(TICKET_COUNTERS, 0))
        counters[counter] += amount
    if not rows:
        return
    table = TicketActivity.__table__
    statement = insert(table)
    upsert = statement.on_conflict_do_update(
        constraint=table.primary_key,
        set_={name: table.c[name] + statement.excluded[name] for name in TICKET_COUNTERS},
    )
    await session.execute(
        upsert,
        [
            {
                "organization_id": organization_id,
                "event_id": event_id,
                "event_date_id": date_id,
                "day": day,
                **counters,
            }
            for (event_id, date_id, day), counters in sorted(rows.items())
        ],
    )
