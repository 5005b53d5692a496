"""Ticket type and shared pool commands and queries, scoped to one organization.

Capacity lives in pools (see :mod:`builtin_plugins.events.inventory`): a ticket type's
``capacity`` is mirrored by its own pool, kept in step here.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.events.inventory import _pools, availability
from builtin_plugins.events.inventory._availability import pool_states, ticket_type_counts
from builtin_plugins.events.inventory._common import PoolState
from builtin_plugins.events.inventory._pools import (
    create_shared_pool,
    pool_members,
    release_leftover_shares,
    set_ticket_type_capacity,
    update_shared_pool,
)
from builtin_plugins.events.inventory._sql import lock_event_inventory
from builtin_plugins.events.models import (
    Event,
    EventDate,
    InventoryPool,
    PoolKind,
    TicketType,
)
from builtin_plugins.events.ticket_schemas import (
    PoolCreate,
    PoolOut,
    PoolUpdate,
    TicketTypeCreate,
    TicketTypeOut,
    TicketTypeUpdate,
    check_rules,
    sale_state,
)
from sdk import Conflict, NotFound, UnprocessableContent
from sdk.clock import utcnow
from sdk.outbox import record_event


class TicketTypeInUse(Conflict):
    code, title = "ticket-type-in-use", "Ticket type in use"


class DuplicateName(Conflict):
    code, title = "duplicate-name", "Name already used"


# -- lookups ------------------------------------------------------------------------------


async def get_event(
    session: AsyncSession, *, organization_id: uuid.UUID, event_id: uuid.UUID
) -> Event:
    event = await session.scalar(
        select(Event).where(Event.id == event_id, Event.organization_id == organization_id)
    )
    if event is None:
        raise NotFound(f"No event {event_id}.")
    return event


async def get_ticket_type(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    ticket_type_id: uuid.UUID,
    for_update: bool = False,
) -> TicketType:
    query = select(TicketType).where(
        TicketType.id == ticket_type_id,
        TicketType.event_id == event_id,
        TicketType.organization_id == organization_id,
    )
    if for_update:
        # NO KEY UPDATE: holds in flight take KEY SHARE on the type (foreign key) while
        # holding the shared inventory lock; a plain FOR UPDATE here, followed by the
        # exclusive inventory lock, would deadlock with them.
        query = query.with_for_update(key_share=True)
    ticket_type = await session.scalar(query)
    if ticket_type is None:
        raise NotFound(f"No ticket type {ticket_type_id} for event {event_id}.")
    return ticket_type


async def _ensure_unique_name(
    session: AsyncSession, event_id: uuid.UUID, name: str, *, except_id: uuid.UUID | None = None
) -> None:
    query = select(TicketType.id).where(TicketType.event_id == event_id, TicketType.name == name)
    if except_id is not None:
        query = query.where(TicketType.id != except_id)
    if await session.scalar(query) is not None:
        raise DuplicateName(f"The event already has a ticket type named {name!r}.")


def _currency(event: Event, currency: str | None) -> str:
    if currency is not None and currency != event.currency:
        raise UnprocessableContent(
            f"Ticket types are sold in the event's currency, {event.currency}.",
            code="currency-mismatch",
        )
    return event.currency


# -- ticket types ---------------------------------------------------------------------------


async def views(session: AsyncSession, ticket_types: Sequence[TicketType]) -> list[TicketTypeOut]:
    """Ticket types with their sale state and live inventory numbers."""
    if not ticket_types:
        return []
    event_id = ticket_types[0].event_id
    counts = await ticket_type_counts(session, event_id=event_id)
    numbers = await availability(session, event_id=event_id)
    now = utcnow()
    out = []
    for t in ticket_types:
        sold, held = counts.get(t.id, (0, 0))
        found = numbers.get(t.id)
        out.append(
            TicketTypeOut(
                id=t.id,
                event_id=t.event_id,
                name=t.name,
                description=t.description,
                price_amount=t.price_amount,
                currency=t.currency,
                capacity=t.capacity,
                sale_starts_at=t.sale_starts_at,
                sale_ends_at=t.sale_ends_at,
                min_per_order=t.min_per_order,
                max_per_order=t.max_per_order,
                visibility=t.visibility,
                position=t.position,
                pricing=t.pricing,
                created_at=t.created_at,
                updated_at=t.updated_at,
                sale_state=sale_state(now, t.sale_starts_at, t.sale_ends_at),
                sold=sold,
                held=held,
                available=found.available if found else None,
            )
        )
    return out


async def list_ticket_types(
    session: AsyncSession, *, organization_id: uuid.UUID, event_id: uuid.UUID
) -> list[TicketType]:
    await get_event(session, organization_id=organization_id, event_id=event_id)
    rows = await session.scalars(
        select(TicketType)
        .where(TicketType.event_id == event_id, TicketType.organization_id == organization_id)
        .order_by(TicketType.position, TicketType.name, TicketType.id)
    )
    return list(rows)


async def create_ticket_type(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    body: TicketTypeCreate,
) -> TicketType:
    event = await get_event(session, organization_id=organization_id, event_id=event_id)
    await _ensure_unique_name(session, event.id, body.name)
    ticket_type = TicketType(
        id=uuid.uuid4(),
        organization_id=organization_id,
        event_id=event.id,
        name=body.name,
        description=body.description,
        price_amount=body.price_amount,
        currency=_currency(event, body.currency),
        capacity=body.capacity,
        sale_starts_at=body.sale_starts_at,
        sale_ends_at=body.sale_ends_at,
        min_per_order=body.min_per_order,
        max_per_order=body.max_per_order,
        visibility=body.visibility,
        position=body.position,
        pricing=body.pricing,
    )
    session.add(ticket_type)
    await session.flush()
    if body.capacity is not None:
        await set_ticket_type_capacity(session, ticket_type=ticket_type, capacity=body.capacity)
    await session.flush()
    await session.refresh(ticket_type)
    return ticket_type


async def update_ticket_type(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    ticket_type_id: uuid.UUID,
    body: TicketTypeUpdate,
) -> tuple[TicketType, dict[str, Any]]:
    """Apply the fields sent; returns the type and what changed (for the audit log)."""
    event = await get_event(session, organization_id=organization_id, event_id=event_id)
    ticket_type = await get_ticket_type(
        session,
        organization_id=organization_id,
        event_id=event_id,
        ticket_type_id=ticket_type_id,
        for_update=True,
    )
    sent = body.model_dump(include=body.model_fields_set)
    if "currency" in sent:
        _currency(event, sent["currency"])
    merged = {
        key: sent.get(key, getattr(ticket_type, key))
        for key in ("sale_starts_at", "sale_ends_at", "min_per_order", "max_per_order")
    }
    try:
        check_rules(**merged)
    except ValueError as exc:
        raise UnprocessableContent(str(exc), code="invalid-ticket-type") from exc
    if "name" in sent and sent["name"] != ticket_type.name:
        await _ensure_unique_name(session, event.id, sent["name"], except_id=ticket_type.id)
    changes: dict[str, Any] = {}
    for key, value in sent.items():
        if key == "capacity" or getattr(ticket_type, key) == value:
            continue
        changes[key] = value
        setattr(ticket_type, key, value)
    if "capacity" in sent and sent["capacity"] != ticket_type.capacity:
        changes["capacity"] = sent["capacity"]
        await set_ticket_type_capacity(session, ticket_type=ticket_type, capacity=sent["capacity"])
    elif "name" in changes and ticket_type.capacity is not None:
        await session.execute(
            text("UPDATE inventory_pool SET name = :name WHERE ticket_type_id = :id"),
            {"name": ticket_type.name, "id": ticket_type.id},
        )
    await session.flush()
    await session.refresh(ticket_type)
    return ticket_type, changes


async def delete_ticket_type(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    ticket_type_id: uuid.UUID,
) -> TicketType:
    """Delete a ticket type nothing was sold or is held of (409 otherwise).

    Records ``ticket_type.deleted`` (``event_id``, ``ticket_type_id``) in the outbox, so
    whatever other plugins keep about the type (questions asked of it) can let go of it.
    """
    ticket_type = await get_ticket_type(
        session, organization_id=organization_id, event_id=event_id, ticket_type_id=ticket_type_id
    )
    # Nothing may be held or sold while we look: structural change, exclusive lock.
    await lock_event_inventory(session, event_id=event_id)
    sold, held = (await ticket_type_counts(session, event_id=event_id)).get(ticket_type.id, (0, 0))
    if sold or held:
        raise TicketTypeInUse(
            f"{sold} sold and {held} held: a ticket type in use cannot be deleted; "
            "hide it or end its sale instead.",
            sold=sold,
            held=held,
        )
    await release_leftover_shares(session, ticket_type_id=ticket_type.id)
    await session.delete(ticket_type)
    await session.flush()
    await record_event(
        session,
        "ticket_type.deleted",
        {"event_id": event_id, "ticket_type_id": ticket_type.id},
        organization_id=organization_id,
    )
    return ticket_type


# -- pools --------------------------------------------------------------------------------


def _pool_view(state: PoolState, event_id: uuid.UUID) -> PoolOut:
    return PoolOut(
        id=state.id,
        event_id=event_id,
        kind=state.kind,
        name=state.name,
        event_date_id=state.event_date_id,
        ticket_type_id=state.ticket_type_id,
        ticket_type_ids=list(state.ticket_type_ids),
        capacity=state.capacity,
        sold=state.sold,
        held=state.held,
        available=state.available,
    )


async def list_pools(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    kind: PoolKind | None = None,
) -> list[PoolOut]:
    await get_event(session, organization_id=organization_id, event_id=event_id)
    states = await pool_states(session, event_id=event_id)
    return [_pool_view(s, event_id) for s in states if kind is None or s.kind == kind]


async def pool_view(
    session: AsyncSession, *, organization_id: uuid.UUID, event_id: uuid.UUID, pool_id: uuid.UUID
) -> PoolOut:
    await get_event(session, organization_id=organization_id, event_id=event_id)
    for state in await pool_states(session, event_id=event_id):
        if state.id == pool_id:
            return _pool_view(state, event_id)
    raise NotFound(f"No pool {pool_id} for event {event_id}.")


async def _shared_pool(
    session: AsyncSession, *, organization_id: uuid.UUID, event_id: uuid.UUID, pool_id: uuid.UUID
) -> InventoryPool:
    pool = await session.scalar(
        select(InventoryPool).where(
            InventoryPool.id == pool_id,
            InventoryPool.event_id == event_id,
            InventoryPool.organization_id == organization_id,
        )
    )
    if pool is None:
        raise NotFound(f"No pool {pool_id} for event {event_id}.")
    if pool.kind is not PoolKind.SHARED:
        raise Conflict(
            "This pool follows a capacity set elsewhere (the ticket type's, the event's or "
            "the date's): change it there.",
            code="pool-managed-elsewhere",
        )
    return pool


async def _check_members(
    session: AsyncSession,
    event_id: uuid.UUID,
    ticket_type_ids: Sequence[uuid.UUID],
    event_date_id: uuid.UUID | None,
) -> None:
    wanted = set(ticket_type_ids)
    found = set(
        await session.scalars(
            select(TicketType.id).where(TicketType.event_id == event_id, TicketType.id.in_(wanted))
        )
    )
    if missing := wanted - found:
        raise UnprocessableContent(
            "Every ticket type of a pool must belong to the event.",
            code="unknown-ticket-type",
            ticket_type_ids=sorted(str(m) for m in missing),
        )
    if event_date_id is not None:
        date = await session.scalar(
            select(EventDate.id).where(
                EventDate.id == event_date_id, EventDate.event_id == event_id
            )
        )
        if date is None:
            raise UnprocessableContent(
                f"Date {event_date_id} is not a date of this event.", code="unknown-date"
            )


async def create_pool(
    session: AsyncSession, *, organization_id: uuid.UUID, event_id: uuid.UUID, body: PoolCreate
) -> InventoryPool:
    await get_event(session, organization_id=organization_id, event_id=event_id)
    await _check_members(session, event_id, body.ticket_type_ids, body.event_date_id)
    return await create_shared_pool(
        session,
        organization_id=organization_id,
        event_id=event_id,
        name=body.name,
        capacity=body.capacity,
        ticket_type_ids=body.ticket_type_ids,
        event_date_id=body.event_date_id,
    )


async def update_pool(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    pool_id: uuid.UUID,
    body: PoolUpdate,
) -> InventoryPool:
    pool = await _shared_pool(
        session, organization_id=organization_id, event_id=event_id, pool_id=pool_id
    )
    sent = body.model_fields_set
    date_id = body.event_date_id if "event_date_id" in sent else pool.event_date_id
    members = body.ticket_type_ids or await pool_members(session, pool.id)
    await _check_members(session, event_id, members, date_id)
    kwargs: dict[str, Any] = {}
    if "event_date_id" in sent:
        kwargs["event_date_id"] = body.event_date_id
    return await update_shared_pool(
        session,
        pool=pool,
        name=body.name,
        capacity=body.capacity,
        ticket_type_ids=body.ticket_type_ids,
        **kwargs,
    )


async def delete_pool(
    session: AsyncSession, *, organization_id: uuid.UUID, event_id: uuid.UUID, pool_id: uuid.UUID
) -> None:
    pool = await _shared_pool(
        session, organization_id=organization_id, event_id=event_id, pool_id=pool_id
    )
    await _pools.delete_pool(session, pool=pool)
