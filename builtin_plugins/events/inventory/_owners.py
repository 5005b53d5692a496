"""Holds by owner: a cart's holds, moved to a signed-in user or onto an order, and
several holds locked together before they are released or converted."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from builtin_plugins.events.inventory._common import (
    MAX_OWNER_LENGTH,
    HoldExpired,
)
from builtin_plugins.events.inventory._sql import (
    _LOCK_POOLS_OF_HOLDS,
    _MOVE_SHARES,
    lock_event_inventory,
)
from builtin_plugins.events.models import (
    HoldStatus,
    InventoryHold,
)


async def lock_holds(
    session: AsyncSession, *, event_id: uuid.UUID, hold_ids: Sequence[uuid.UUID]
) -> list[InventoryHold]:
    """Lock several holds of one event and every pool they touch, in the rules' order.

    Call it before releasing or converting them one by one in the same transaction
    (:func:`release_hold`, :func:`convert_hold` then only re-take locks already held).
    Returns the holds found, in id order.
    """
    ids = sorted(set(hold_ids))
    await lock_event_inventory(session, event_id=event_id, exclusive=False)
    if not ids:
        return []
    holds = list(
        await session.scalars(
            select(InventoryHold)
            .where(InventoryHold.id.in_(ids), InventoryHold.event_id == event_id)
            .order_by(InventoryHold.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )
    await session.execute(_LOCK_POOLS_OF_HOLDS, {"event_id": event_id, "hold_ids": ids})
    return holds


async def attach_holds(
    session: AsyncSession,
    *,
    event_id: uuid.UUID,
    owner: str,
    new_owner: str,
    expires_in_seconds: float,
    organization_id: uuid.UUID | None = None,
) -> list[InventoryHold]:
    """Move ``owner``'s unexpired active holds of the event to ``new_owner`` (an order),
    now expiring ``expires_in_seconds`` from now (the order's payment deadline).

    No pool counter changes and no pool row is locked (see the module's rules): the units
    stay held, for the order now. Raises :class:`HoldExpired` (409, naming the hold) when
    a hold lost a share to a reclaimer a moment ago; the caller's transaction must then
    roll back, since other holds may have moved already. Returns the moved holds in id
    order (none when the owner holds nothing).
    """
    if not new_owner or len(new_owner) > MAX_OWNER_LENGTH:
        raise ValueError("the new owner must be 1 to 128 characters")
    if expires_in_seconds <= 0:
        raise ValueError("a hold must expire in the future")
    await lock_event_inventory(session, event_id=event_id, exclusive=False)
    query = (
        select(InventoryHold)
        .where(
            InventoryHold.event_id == event_id,
            InventoryHold.owner == owner,
            InventoryHold.status == HoldStatus.ACTIVE,
            InventoryHold.expires_at > func.now(),
        )
        .order_by(InventoryHold.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if organization_id is not None:
        query = query.where(InventoryHold.organization_id == organization_id)
    holds = list(await session.scalars(query))
    if not holds:
        return []
    ids = [hold.id for hold in holds]
    rows = (
        await session.execute(_MOVE_SHARES, {"hold_ids": ids, "seconds": float(expires_in_seconds)})
    ).all()
    by_id = {hold.id: hold for hold in holds}
    for row in rows:
        if row.lost:
            hold = by_id[row.id]
            raise HoldExpired(
                "A hold in the cart expired and its tickets went to someone else.",
                hold_id=str(hold.id),
                ticket_type_id=str(hold.ticket_type_id),
            )
    expires_at = rows[0].expires_at
    await session.execute(
        update(InventoryHold)
        .where(InventoryHold.id.in_(ids))
        .values(owner=new_owner, expires_at=expires_at)
        .execution_options(synchronize_session=False)
    )
    for hold in holds:
        set_committed_value(hold, "owner", new_owner)
        set_committed_value(hold, "expires_at", expires_at)
    return holds


async def owner_holds(
    session: AsyncSession, *, event_id: uuid.UUID, owner: str
) -> list[InventoryHold]:
    """The owner's unexpired active holds of the event, oldest first (a cart). Reads only."""
    return list(
        await session.scalars(
            select(InventoryHold)
            .where(
                InventoryHold.event_id == event_id,
                InventoryHold.owner == owner,
                InventoryHold.status == HoldStatus.ACTIVE,
                InventoryHold.expires_at > func.now(),
            )
            .order_by(InventoryHold.created_at, InventoryHold.id)
        )
    )


async def move_holds(session: AsyncSession, *, from_owner: str, to_owner: str) -> int:
    """Move every unexpired active hold of ``from_owner`` (an anonymous cart) to
    ``to_owner`` (the user who just signed in), keeping their expiry; returns how many
    moved. Only the owner changes: the units stay held, so no pool counter moves and no
    lock beyond the hold rows' own is needed."""
    if not to_owner or len(to_owner) > MAX_OWNER_LENGTH:
        raise ValueError("the new owner must be 1 to 128 characters")
    moved = await session.execute(
        update(InventoryHold)
        .where(
            InventoryHold.owner == from_owner,
            InventoryHold.status == HoldStatus.ACTIVE,
            InventoryHold.expires_at > func.now(),
        )
        .values(owner=to_owner)
        .returning(InventoryHold.id)
    )
    return len(moved.all())
