"""What one ``ticket.*`` domain event adds to the ticket activity counters.

Like the sales counters these only ever add (an undone check-in adds ``-1``), so
arrival order does not matter and a replay gives the same totals. Each is counted on the
day it happened in the event's time zone, on the event date the payload names
(:data:`.models.NO_DATE` when it names none).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
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


async def catalog_of(
    session: AsyncSession, organization_id: uuid.UUID, events: Sequence[DomainEvent]
) -> dict[str, tuple[str, str]]:
    """``payload["event_id"]`` -> (time zone, currency) of the catalog events that
    ``events`` name and the organization still has (one purged is left out)."""
    named = {str(event.payload["event_id"]) for event in events}
    if not named:
        return {}
    found = await session.execute(
        select(Event.id, Event.timezone, Event.currency).where(
            Event.organization_id == organization_id,
            Event.id.in_([uuid.UUID(event_id) for event_id in named]),
        )
    )
    return {str(event_id): (timezone, currency) for event_id, timezone, currency in found}


async def add_ticket_events(
    session: AsyncSession,
    organization_id: uuid.UUID,
    events: Sequence[DomainEvent],
    catalog: Mapping[str, tuple[str, str]],
) -> None:
    """Upsert what ``events`` add, summed per row, in one statement (an event whose
    catalog event went with a purge, absent from ``catalog``, adds nothing)."""
    rows: dict[tuple[uuid.UUID, uuid.UUID, date], dict[str, int]] = {}
    for event in events:
        event_id, date_id, counter, amount = ticket_delta(event.topic, event.payload)
        if str(event_id) not in catalog or amount == 0:
            continue
        timezone, _ = catalog[str(event_id)]
        key = (event_id, date_id, local_day(event.occurred_at, timezone))
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
