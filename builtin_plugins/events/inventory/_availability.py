"""What is left: pools with live numbers, and units one more buyer could get."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.events.inventory._common import (
    Availability,
    PoolState,
)
from builtin_plugins.events.inventory._sql import (
    _EVENT_SHAPE,
    _POOL_STATES,
    _uuid,
)
from builtin_plugins.events.models import (
    PoolKind,
)


async def pool_states(session: AsyncSession, *, event_id: uuid.UUID) -> list[PoolState]:
    """Every pool of the event with live numbers (expired shares not counted as held)."""
    rows = (await session.execute(_POOL_STATES, {"event_id": event_id})).all()
    return [
        PoolState(
            id=row.id,
            kind=PoolKind(row.kind),
            name=row.name,
            event_date_id=row.event_date_id,
            ticket_type_id=row.ticket_type_id,
            capacity=row.capacity,
            sold=row.sold,
            held=row.held - int(row.expired),
            ticket_type_ids=tuple(_uuid(m) for m in row.members or ()),
        )
        for row in rows
    ]


def _applies(pool: PoolState, ticket_type_id: uuid.UUID) -> bool:
    return (
        pool.kind in (PoolKind.EVENT, PoolKind.DATE)
        or pool.ticket_type_id == ticket_type_id
        or ticket_type_id in pool.ticket_type_ids
    )


def _min(values: Iterable[int]) -> int | None:
    values = list(values)
    return min(values) if values else None


async def availability(
    session: AsyncSession, *, event_id: uuid.UUID, event_date_id: uuid.UUID | None = None
) -> dict[uuid.UUID, Availability]:
    """Per ticket type of the event: how many units one more buyer could get, the minimum
    over the pools that apply (``available=None, capacity_limited=False`` when none does).

    Counts ``capacity - sold - (held - expired held)``: expired holds are free even before
    anyone reclaims them. Without ``event_date_id``, an event with one date uses it; an
    event with several dates answers the best date (what some date still has).
    Reads only; takes no locks.
    """
    return await _availability(session, event_id=event_id, event_date_id=event_date_id)


async def public_availability(
    session: AsyncSession, *, event_id: uuid.UUID, event_date_id: uuid.UUID | None = None
) -> dict[uuid.UUID, Availability]:
    """:func:`availability` for the public ticket types only (what buyers may see)."""
    return await _availability(
        session, event_id=event_id, event_date_id=event_date_id, public_only=True
    )


async def _availability(
    session: AsyncSession,
    *,
    event_id: uuid.UUID,
    event_date_id: uuid.UUID | None,
    public_only: bool = False,
) -> dict[uuid.UUID, Availability]:
    shape = (await session.execute(_EVENT_SHAPE, {"event_id": event_id})).one()
    listed = shape.public_ticket_types if public_only else shape.ticket_types
    ticket_types = [_uuid(t) for t in listed or ()]
    dates = [_uuid(d) for d in shape.dates or ()]
    if event_date_id is None and len(dates) == 1:
        event_date_id = dates[0]
    pools = await pool_states(session, event_id=event_id)
    undated = [p for p in pools if p.event_date_id is None]
    result: dict[uuid.UUID, Availability] = {}
    for ticket_type_id in ticket_types:
        limit = _min(p.available for p in undated if _applies(p, ticket_type_id))

        def on(date_id: uuid.UUID, ticket_type_id: uuid.UUID = ticket_type_id) -> int | None:
            return _min(
                p.available
                for p in pools
                if p.event_date_id == date_id and _applies(p, ticket_type_id)
            )

        if event_date_id is not None:
            dated_limit = on(event_date_id)
        else:
            # Several dates, none named: the best date decides (a date that no dated
            # pool limits is unlimited as far as dated pools go).
            per_date = [on(date_id) for date_id in dates]
            dated_limit = None if not per_date or None in per_date else max(per_date)
        if dated_limit is not None:
            limit = dated_limit if limit is None else min(limit, dated_limit)
        result[ticket_type_id] = Availability(available=limit, capacity_limited=limit is not None)
    return result


async def ticket_type_counts(
    session: AsyncSession, *, event_id: uuid.UUID
) -> dict[uuid.UUID, tuple[int, int]]:
    """(sold, held) per ticket type from the hold ledger (sold less returned units);
    held excludes expired holds."""
    rows = await session.execute(
        text(
            """
            SELECT ticket_type_id,
                   coalesce(sum(quantity - returned) FILTER (WHERE status = 'converted'), 0)
                       AS sold,
                   coalesce(sum(quantity) FILTER (
                       WHERE status = 'active' AND expires_at > now()), 0) AS held
              FROM inventory_hold WHERE event_id = :event_id
             GROUP BY ticket_type_id
            """
        ),
        {"event_id": event_id},
    )
    return {row.ticket_type_id: (int(row.sold), int(row.held)) for row in rows}
