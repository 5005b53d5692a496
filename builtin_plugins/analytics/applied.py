"""Applying a batch of domain events to a read model once each: what every read model of
this plugin shares, so the sales and the demographics models cannot drift apart.

Per organization of the batch, in one lock order: the model's lock (a rebuild and the
relay never interleave), then the events recorded in the model's applied-event table
(an event applied before, or twice in the batch, counts only its first time), then the
model's own apply of what is new.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Collection, Sequence

from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from sdk.outbox import DomainEvent

Step = Callable[[AsyncSession, uuid.UUID], Awaitable[None]]
Apply = Callable[[AsyncSession, uuid.UUID, Sequence[DomainEvent]], Awaitable[None]]


async def apply_once(
    session: AsyncSession,
    events: Sequence[DomainEvent],
    *,
    topics: Collection[str],
    lock: Step,
    applied: Table,
    apply: Apply,
) -> int:
    """Apply the events of ``topics`` with ``apply``, each once; how many were new."""
    counted = [e for e in events if e.topic in topics and e.organization_id is not None]
    new = 0
    for organization_id in sorted({e.organization_id for e in counted}):  # one lock order
        mine = [event for event in counted if event.organization_id == organization_id]
        await lock(session, organization_id)
        fresh = await first_time(session, applied, organization_id, mine)
        await apply(session, organization_id, fresh)
        new += len(fresh)
    return new


async def first_time(
    session: AsyncSession,
    applied: Table,
    organization_id: uuid.UUID,
    events: Sequence[DomainEvent],
) -> list[DomainEvent]:
    """Record ``events`` in ``applied``; those not recorded before, in order."""
    first: dict[uuid.UUID, DomainEvent] = {}
    for event in events:
        first.setdefault(event.id, event)
    if not first:
        return []
    # One statement compiled once, its rows sent as a batch (SQLAlchemy's
    # "insertmanyvalues"): a VALUES list compiled per call costs more than the database.
    recorded = await session.execute(
        insert(applied).on_conflict_do_nothing().returning(applied.c.event_id),
        [
            {"event_id": e.id, "organization_id": organization_id, "topic": e.topic}
            for e in first.values()
        ],
    )
    new = set(recorded.scalars())
    return [event for event in first.values() if event.id in new]
