"""Holds by owner: a cart's holds, moved to a signed-in user or onto an order, and
several holds locked together before they are released or converted."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.events.inventory._common import (
    ADVISORY_NAMESPACE,
    MAX_OWNER_LENGTH,
    HoldExpired,
)
from builtin_plugins.events.inventory._sql import (
    _ATTACH,
    _LOCK_POOLS_OF_HOLDS,
    lock_event_inventory,
)
from builtin_plugins.events.models import (
    HoldStatus,
    InventoryHold,
)
from sdk.db import detached_copy, fetch


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


@dataclass(frozen=True, slots=True)
class Attached:
    """The holds moved onto an order, and the event's ``catalog_version`` read in the
    same statement (``None`` when nothing moved): what a cached catalog is checked
    against (:func:`builtin_plugins.events.event_catalog`)."""

    holds: list[InventoryHold]
    catalog_version: int | None


async def attach_holds(
    session: AsyncSession,
    *,
    event_id: uuid.UUID,
    owner: str,
    new_owner: str,
    expires_in_seconds: float,
    organization_id: uuid.UUID | None = None,
) -> Attached:
    """Move ``owner``'s unexpired active holds of the event to ``new_owner`` (an order),
    now expiring ``expires_in_seconds`` from now (the order's payment deadline).

    No pool counter changes and no pool row is locked (see the module's rules): the units
    stay held, for the order now. Raises :class:`HoldExpired` (409, naming the hold) when
    a hold lost a share to a reclaimer a moment ago; the caller's transaction must then
    roll back, since other holds may have moved already. Returns the moved holds in id
    order (none when the owner holds nothing) with the event's catalog version. One
    statement.
    """
    if not new_owner or len(new_owner) > MAX_OWNER_LENGTH:
        raise ValueError("the new owner must be 1 to 128 characters")
    if expires_in_seconds <= 0:
        raise ValueError("a hold must expire in the future")
    rows = await fetch(
        session,
        _ATTACH,
        {
            "ns": ADVISORY_NAMESPACE,
            "event_id": event_id,
            "owner": owner,
            "new_owner": new_owner,
            "organization_id": organization_id,
            "seconds": float(expires_in_seconds),
        },
    )
    for row in rows:
        if row["lost"]:
            raise HoldExpired(
                "A hold in the cart expired and its tickets went to someone else.",
                hold_id=str(row["id"]),
                ticket_type_id=str(row["ticket_type_id"]),
            )
    # Detached records of the rows as they now are: the caller reads them, never writes.
    holds = [
        detached_copy(InventoryHold, {**row, "status": HoldStatus(row["status"])}) for row in rows
    ]
    return Attached(holds, rows[0]["catalog_version"] if rows else None)


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
