"""An event's questions as checkout reads them: cached per process by the event's
``catalog_version``, which every change to the questions bumps (they take
:func:`.questions.lock_event_questions`, which calls ``touch_catalog``), so the buying
path reads them once per version and never a stale copy."""

from __future__ import annotations

import uuid
from collections import OrderedDict

from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.orders.models import EventQuestion
from sdk.db import read_detached

_cached: OrderedDict[uuid.UUID, tuple[int, list[EventQuestion]]] = OrderedDict()
MAX_CACHED_EVENTS = 2048


async def questions_of_event(
    session: AsyncSession, *, event_id: uuid.UUID, version: int
) -> list[EventQuestion]:
    """The event's questions in the order a form shows them, as of ``version`` (read by
    checkout in its transaction). Detached copies: read them only."""
    found = _cached.get(event_id)
    if found is not None and found[0] == version:
        _cached.move_to_end(event_id)
        return found[1]
    rows = await read_detached(
        session,
        EventQuestion,
        EventQuestion.event_id == event_id,
        order_by=(EventQuestion.position, EventQuestion.created_at, EventQuestion.id),
    )
    # stored under the version checkout read, which is no newer than the rows
    _cached[event_id] = (version, rows)
    while len(_cached) > MAX_CACHED_EVENTS:
        _cached.popitem(last=False)
    return rows
