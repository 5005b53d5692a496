"""Structure: pools and capacities, each recounted from the hold ledger under the
exclusive lock."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from builtin_plugins.events.inventory._common import (
    CapacityConflict,
)
from builtin_plugins.events.inventory._sql import (
    _RECOUNT,
    lock_event_inventory,
)
from builtin_plugins.events.models import (
    InventoryPool,
    PoolKind,
    PoolMember,
    TicketType,
)


async def _recount(session: AsyncSession, pool: InventoryPool, capacity: int) -> None:
    """Recount ``pool`` from the hold ledger and set its capacity; 409 when the capacity
    is below what is sold and held. Caller holds the exclusive advisory lock."""
    await session.flush()
    await session.execute(
        select(InventoryPool.id).where(InventoryPool.id == pool.id).with_for_update()
    )
    await session.execute(
        text("DELETE FROM inventory_pool_hold WHERE pool_id = :pool_id"), {"pool_id": pool.id}
    )
    counts = (await session.execute(_RECOUNT, {"pool_id": pool.id})).one()
    sold, held = int(counts.sold), int(counts.held)
    if sold + held > capacity:
        raise CapacityConflict(
            f"{sold} sold and {held} held: the capacity cannot be lower than {sold + held}.",
            sold=sold,
            held=held,
            minimum_capacity=sold + held,
        )
    await session.execute(
        update(InventoryPool)
        .where(InventoryPool.id == pool.id)
        .values(capacity=capacity, sold=sold, held=held)
        .execution_options(synchronize_session=False)
    )
    for attribute, value in (("capacity", capacity), ("sold", sold), ("held", held)):
        set_committed_value(pool, attribute, value)


async def set_ticket_type_capacity(
    session: AsyncSession, *, ticket_type: TicketType, capacity: int | None
) -> InventoryPool | None:
    """Make the type's own pool match ``capacity`` (``None``: no own limit, pool removed).

    A new pool starts from what was already sold and held of the type. Raises
    :class:`CapacityConflict` (409) below sold + held. Sets ``ticket_type.capacity``.
    """
    await lock_event_inventory(session, event_id=ticket_type.event_id)
    pool = await session.scalar(
        select(InventoryPool).where(InventoryPool.ticket_type_id == ticket_type.id)
    )
    ticket_type.capacity = capacity
    if capacity is None:
        if pool is not None:
            await session.delete(pool)
            await session.flush()
        return None
    if pool is None:
        pool = InventoryPool(
            id=uuid.uuid4(),
            organization_id=ticket_type.organization_id,
            event_id=ticket_type.event_id,
            ticket_type_id=ticket_type.id,
            kind=PoolKind.TICKET_TYPE,
            name=ticket_type.name[:120],
            capacity=capacity,
            sold=0,
            held=0,
        )
        session.add(pool)
    pool.name = ticket_type.name[:120]
    await _recount(session, pool, capacity)
    return pool


async def create_shared_pool(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    name: str,
    capacity: int,
    ticket_type_ids: Sequence[uuid.UUID],
    event_date_id: uuid.UUID | None = None,
) -> InventoryPool:
    """A shared pool limiting several ticket types together (a quota), optionally on one
    date only, counted from what those types already sold and hold. The caller checks
    that the types and the date belong to the event. :class:`CapacityConflict` (409)."""
    await lock_event_inventory(session, event_id=event_id)
    pool = InventoryPool(
        id=uuid.uuid4(),
        organization_id=organization_id,
        event_id=event_id,
        event_date_id=event_date_id,
        kind=PoolKind.SHARED,
        name=name,
        capacity=capacity,
        sold=0,
        held=0,
    )
    session.add(pool)
    await session.flush()
    await _add_members(session, pool.id, ticket_type_ids)
    await _recount(session, pool, capacity)
    return pool


_UNSET: Any = object()


async def _add_members(
    session: AsyncSession, pool_id: uuid.UUID, ticket_type_ids: Iterable[uuid.UUID]
) -> None:
    members = [{"pool_id": pool_id, "ticket_type_id": t} for t in dict.fromkeys(ticket_type_ids)]
    if members:
        await session.execute(insert(PoolMember), members)


async def pool_members(session: AsyncSession, pool_id: uuid.UUID) -> list[uuid.UUID]:
    rows = await session.scalars(
        select(PoolMember.ticket_type_id)
        .where(PoolMember.pool_id == pool_id)
        .order_by(PoolMember.ticket_type_id)
    )
    return list(rows)


async def update_shared_pool(
    session: AsyncSession,
    *,
    pool: InventoryPool,
    name: str | None = None,
    capacity: int | None = None,
    ticket_type_ids: Sequence[uuid.UUID] | None = None,
    event_date_id: uuid.UUID | None = _UNSET,
) -> InventoryPool:
    """Change a shared pool; it is recounted (members or date may have changed).
    :class:`CapacityConflict` (409) when the capacity is below sold + held."""
    await lock_event_inventory(session, event_id=pool.event_id)
    if name is not None:
        pool.name = name
    if event_date_id is not _UNSET:
        pool.event_date_id = event_date_id
    if ticket_type_ids is not None:
        await session.execute(
            delete(PoolMember)
            .where(PoolMember.pool_id == pool.id)
            .execution_options(synchronize_session=False)
        )
        await _add_members(session, pool.id, ticket_type_ids)
    await _recount(session, pool, pool.capacity if capacity is None else capacity)
    return pool


async def delete_pool(session: AsyncSession, *, pool: InventoryPool) -> None:
    """Remove a pool and its limit (its shares go with it; holds and sales stay)."""
    await lock_event_inventory(session, event_id=pool.event_id)
    await session.delete(pool)
    await session.flush()


async def _set_scoped_pool(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    kind: PoolKind,
    event_date_id: uuid.UUID | None,
    capacity: int | None,
    name: str,
) -> InventoryPool | None:
    await lock_event_inventory(session, event_id=event_id)
    query = select(InventoryPool).where(
        InventoryPool.event_id == event_id, InventoryPool.kind == kind
    )
    query = query.where(
        InventoryPool.event_date_id.is_(None)
        if event_date_id is None
        else InventoryPool.event_date_id == event_date_id
    )
    pool = await session.scalar(query)
    if capacity is None:
        if pool is not None:
            await session.delete(pool)
            await session.flush()
        return None
    if pool is None:
        pool = InventoryPool(
            id=uuid.uuid4(),
            organization_id=organization_id,
            event_id=event_id,
            event_date_id=event_date_id,
            kind=kind,
            name=name,
            capacity=capacity,
            sold=0,
            held=0,
        )
        session.add(pool)
    await _recount(session, pool, capacity)
    return pool


async def set_event_capacity(
    session: AsyncSession, *, organization_id: uuid.UUID, event_id: uuid.UUID, capacity: int | None
) -> InventoryPool | None:
    """Keep the event's ``event`` pool (all types, all dates) in line with its capacity;
    call it when ``event.capacity`` is set or changed. 409 below sold + held."""
    return await _set_scoped_pool(
        session,
        organization_id=organization_id,
        event_id=event_id,
        kind=PoolKind.EVENT,
        event_date_id=None,
        capacity=capacity,
        name="Event capacity",
    )


async def set_date_capacity(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    event_date_id: uuid.UUID,
    capacity: int | None,
) -> InventoryPool | None:
    """Keep a date's ``date`` pool (all types on that date) in line with its capacity;
    call it when ``event_date.capacity`` is set or changed. 409 below sold + held."""
    return await _set_scoped_pool(
        session,
        organization_id=organization_id,
        event_id=event_id,
        kind=PoolKind.DATE,
        event_date_id=event_date_id,
        capacity=capacity,
        name="Date capacity",
    )


async def release_leftover_shares(session: AsyncSession, *, ticket_type_id: uuid.UUID) -> None:
    """Give back every pool share still held by holds of a ticket type (before deleting
    it: its holds go with it, so their shares would otherwise never be reclaimed).
    Caller holds the exclusive advisory lock."""
    await session.execute(
        text(
            """
            WITH gone AS (
                DELETE FROM inventory_pool_hold ph USING inventory_hold h
                 WHERE ph.hold_id = h.id AND h.ticket_type_id = :ticket_type_id
                RETURNING ph.pool_id, ph.quantity
            ),
            per_pool AS (SELECT pool_id, sum(quantity) AS quantity FROM gone GROUP BY pool_id)
            UPDATE inventory_pool p SET held = p.held - per_pool.quantity
              FROM per_pool WHERE p.id = per_pool.pool_id
            """
        ),
        {"ticket_type_id": ticket_type_id},
    )
