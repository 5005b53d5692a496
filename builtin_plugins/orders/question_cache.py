"""An event's questions as checkout reads them: cached per process by the event's
``catalog_version``, which every change to the questions bumps (they take
:func:`.questions.lock_event_questions`, which calls ``touch_catalog``), so the buying
path reads them once per version and never a stale copy."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.orders.models import EventQuestion
from sdk.cache import VersionedCache
from sdk.db import read_detached

MAX_CACHED_EVENTS = 2048
_cached: VersionedCache[uuid.UUID, list[EventQuestion]] = VersionedCache(MAX_CACHED_EVENTS)


async def questions_of_event(
    session: AsyncSession, *, event_id: uuid.UUID, version: int
) -> list[EventQuestion]:
    """The event's questions in the order a form shows them, as of ``version`` (read by
    checkout in its transaction). Detached copies: read them only."""
    found = _cached.get(event_id, version)
    if found is not None:
        return found
    rows = await read_detached(
        session,
        EventQuestion,
        EventQuestion.event_id == event_id,
        order_by=(EventQuestion.position, EventQuestion.created_at, EventQuestion.id),
    )
    # stored under the version checkout read, which is no newer than the rows
    _cached.put(event_id, version, rows)
    return rows
