"""Reading an organization's outbox events again, oldest first, for a read model's rebuild.

Outbox events are never deleted, so a consumer that keeps a projection of them (a read
model) can throw it away and replay the events through the same function that applied
them as they were delivered; the answer is the same state.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Collection

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.contracts import DomainEvent
from kernel.outbox.models import OutboxEvent


async def replay_events(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    topics: Collection[str],
    batch_size: int = 1000,
) -> AsyncIterator[DomainEvent]:
    """The organization's events of ``topics`` in the order the relay delivers them
    (``occurred_at``, then id), read ``batch_size`` at a time in ``session``."""
    last: tuple | None = None
    columns = (
        OutboxEvent.id,
        OutboxEvent.topic,
        OutboxEvent.organization_id,
        OutboxEvent.payload,
        OutboxEvent.occurred_at,
    )
    while True:
        # Plain rows, not mapped objects: a replay of many thousands of events must not
        # fill the session's identity map.
        query = (
            select(*columns)
            .where(OutboxEvent.organization_id == organization_id, OutboxEvent.topic.in_(topics))
            .order_by(OutboxEvent.occurred_at, OutboxEvent.id)
            .limit(batch_size)
        )
        if last is not None:
            at, event_id = last
            query = query.where(
                or_(
                    OutboxEvent.occurred_at > at,
                    and_(OutboxEvent.occurred_at == at, OutboxEvent.id > event_id),
                )
            )
        rows = (await session.execute(query)).all()
        for row in rows:
            yield DomainEvent(
                id=row.id,
                topic=row.topic,
                organization_id=row.organization_id,
                payload=row.payload,
                occurred_at=row.occurred_at,
            )
        if len(rows) < batch_size:
            return
        last = (rows[-1].occurred_at, rows[-1].id)


async def organizations_with_events(
    session: AsyncSession, topics: Collection[str]
) -> list[uuid.UUID]:
    """Every organization that has an event of ``topics``."""
    found = await session.scalars(
        select(OutboxEvent.organization_id)
        .where(OutboxEvent.topic.in_(topics), OutboxEvent.organization_id.is_not(None))
        .distinct()
    )
    return sorted(organization_id for organization_id in found if organization_id is not None)
