"""The catalog the buying path reads (an event, its ticket types and dates), kept per
process so a checkout reads none of it from the database.

An entry is good for one ``event.catalog_version``. The database bumps that number on
every change to the event, one of its ticket types or dates (triggers, revision
``events_0004``); another plugin whose per-event data it caches next to this calls
:func:`touch_catalog` when that data changes. The buying path learns the current
number from a statement it runs anyway (attaching the cart's holds), so checking an
entry costs no round trip, and a stale entry is simply read again.

The event row is read first and its version stored with what follows: a change that
commits between the reads can make an entry newer than its number, never older.

Entries are detached copies shared by concurrent requests: read them, never change them
or add them to a session.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.events.models import Event, EventDate, TicketType
from sdk.cache import VersionedCache
from sdk.db import read_detached

MAX_ENTRIES = 2048


@dataclass(frozen=True, slots=True)
class EventCatalog:
    version: int
    event: Event
    ticket_types: Mapping[uuid.UUID, TicketType]
    dates: Mapping[uuid.UUID, EventDate]


_entries: VersionedCache[uuid.UUID, EventCatalog] = VersionedCache(MAX_ENTRIES)


async def event_catalog(
    session: AsyncSession, event_id: uuid.UUID, *, version: int | None
) -> EventCatalog | None:
    """The event's catalog as of ``version`` or newer (``None``: no such event); read
    from the database (on the caller's connection, as detached copies) only when this
    process has no entry of that version."""
    found = _entries.get(event_id, version)
    if found is not None:
        return found
    events = await read_detached(session, Event, Event.id == event_id)
    if not events:
        return None
    event = events[0]
    types = await read_detached(session, TicketType, TicketType.event_id == event_id)
    dates = await read_detached(session, EventDate, EventDate.event_id == event_id)
    entry = EventCatalog(
        version=event.catalog_version,
        event=event,
        ticket_types={row.id: row for row in types},
        dates={row.id: row for row in dates},
    )
    _entries.put(event_id, entry.version, entry)
    return entry


async def touch_catalog(session: AsyncSession, event_id: uuid.UUID) -> None:
    """Say the event's per-event data changed (in the caller's transaction): every
    process reads its catalog, and what other plugins cache by its version, again."""
    await session.execute(
        update(Event)
        .where(Event.id == event_id)
        .values(catalog_version=Event.catalog_version + 1)
        .execution_options(synchronize_session=False)
    )
