"""One hold at a time: place, sell, release, convert, return to stock."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from builtin_plugins.events.inventory._common import (
    ADVISORY_NAMESPACE,
    MAX_OWNER_LENGTH,
    Hold,
    HoldNotActive,
    HoldNotFound,
    OrderLimit,
    SaleClosed,
    SoldOut,
    inventory_settings,
)
from builtin_plugins.events.inventory._metrics import HOLD_CONVERTED, HOLD_RELEASED
from builtin_plugins.events.inventory._sql import (
    _CONVERT_COUNTERS,
    _HOLD_ADVISORY,
    _HOLD_SHARES,
    _LOCK_HOLD_POOLS,
    _LOCK_SHARED_POOLS,
    _RELEASE_SHARES,
    _RETURN_COUNTERS,
    _TAKE,
    _reclaim,
)
from builtin_plugins.events.models import (
    HoldStatus,
    InventoryHold,
    InventoryPool,
)
from sdk import NotFound, UnprocessableContent
from sdk.db import Executor, fetch_one
from sdk.metrics import count_on_commit


async def _take(
    executor: Executor,
    *,
    status: HoldStatus,
    organization_id: uuid.UUID | None,
    event_id: uuid.UUID,
    ticket_type_id: uuid.UUID,
    event_date_id: uuid.UUID | None,
    quantity: int,
    owner: str,
    seconds: float,
    enforce_sale_rules: bool,
    allow_promo: bool,
) -> Hold:
    if quantity < 1:
        raise UnprocessableContent("The quantity must be at least 1.")
    if not owner or len(owner) > MAX_OWNER_LENGTH:
        raise UnprocessableContent("A hold needs an owner of at most 128 characters.")
    hold_id = uuid.uuid4()
    taken = await fetch_one(
        executor,
        _TAKE,
        {
            "namespace": ADVISORY_NAMESPACE,
            "event_id": event_id,
            "ticket_type_id": ticket_type_id,
            "event_date_id": event_date_id,
            "quantity": quantity,
            "owner": owner,
            "seconds": float(seconds),
            "hold_id": hold_id,
            "organization_id": organization_id,
            "sale": status is HoldStatus.CONVERTED,
            "buyer_rules": enforce_sale_rules,
            "allow_promo": allow_promo,
        },
    )
    if taken["outcome"] != "ok":
        raise _refusal(
            taken,
            event_id=event_id,
            ticket_type_id=ticket_type_id,
            event_date_id=event_date_id,
            quantity=quantity,
        )
    return Hold(
        id=hold_id,
        organization_id=taken["organization_id"],
        event_id=event_id,
        event_date_id=taken["event_date_id"],
        ticket_type_id=ticket_type_id,
        quantity=quantity,
        owner=owner,
        status=status,
        expires_at=taken["expires_at"],
    )


def _refusal(
    taken: Any,
    *,
    event_id: uuid.UUID,
    ticket_type_id: uuid.UUID,
    event_date_id: uuid.UUID | None,
    quantity: int,
) -> Exception:
    """The problem for what ``inventory_take`` refused (its ``outcome``)."""
    match taken["outcome"]:
        case "ticket-type-not-found":
            return NotFound(f"No ticket type {ticket_type_id} for event {event_id}.")
        case "event-not-published":
            return NotFound(f"No published event {event_id}.")
        case "date-not-found":
            return NotFound(f"No date {event_date_id} for event {event_id}.")
        case "no-date":
            return UnprocessableContent("This event has no date to sell tickets for yet.")
        case "date-required":
            return UnprocessableContent(
                "This event has several dates: say which one (date_id).", code="date-required"
            )
        case "sale-not-started":
            return SaleClosed(
                "This ticket type is not on sale yet.",
                code="sale-not-started",
                sale_starts_at=taken["sale_starts_at"].isoformat(),
            )
        case "sale-ended":
            return SaleClosed("The sale of this ticket type has ended.", code="sale-ended")
        case "date-over":
            return SaleClosed("This date is over.", code="date-over")
        case "order-limit":
            return OrderLimit(
                f"Between {taken['min_per_order']} and {taken['max_per_order']} per order "
                f"(already held: {taken['owner_held']}).",
                min_per_order=taken["min_per_order"],
                max_per_order=taken["max_per_order"],
                already_held=int(taken["owner_held"]),
            )
        case "sold-out":
            available = int(taken["available"])
            return SoldOut(
                f"Only {available} left." if available else "Sold out.",
                available=available,
                requested=quantity,
                ticket_type_id=str(ticket_type_id),
                date_id=str(taken["event_date_id"]),
            )
    raise RuntimeError(f"inventory_take answered {taken['outcome']!r}")


async def place_hold(
    executor: Executor,
    *,
    event_id: uuid.UUID,
    ticket_type_id: uuid.UUID,
    quantity: int,
    owner: str,
    event_date_id: uuid.UUID | None = None,
    organization_id: uuid.UUID | None = None,
    hold_minutes: float | None = None,
    enforce_sale_rules: bool = True,
    allow_promo: bool = False,
) -> Hold:
    """Set ``quantity`` units of a ticket type aside for ``owner`` (see :func:`owner_for`)
    until ``expires_at``, in the transaction of ``executor`` (commit it promptly: the pools
    stay locked until then), or alone on an autocommitted connection.

    ``event_date_id`` may be left out when the event has one date. With
    ``enforce_sale_rules`` (the default) a buyer's rules apply: the event is published,
    the type is not promo-only (unless ``allow_promo``), the sale window is open, the date
    not over, and the owner's unexpired holds of the type plus ``quantity`` lie within
    min/max per order. ``organization_id`` scopes the lookup to one tenant.

    Raises :class:`SoldOut` (409, with ``available``) when an applicable pool lacks room
    even after reclaiming expired holds; :class:`SaleClosed` (409), :class:`OrderLimit`
    (422), ``NotFound`` (404) or ``UnprocessableContent`` (422) for the rules.
    """
    minutes = hold_minutes if hold_minutes is not None else inventory_settings().hold_minutes
    return await _take(
        executor,
        status=HoldStatus.ACTIVE,
        organization_id=organization_id,
        event_id=event_id,
        ticket_type_id=ticket_type_id,
        event_date_id=event_date_id,
        quantity=quantity,
        owner=owner,
        seconds=minutes * 60,
        enforce_sale_rules=enforce_sale_rules,
        allow_promo=allow_promo,
    )


async def sell_directly(
    session: AsyncSession,
    *,
    event_id: uuid.UUID,
    ticket_type_id: uuid.UUID,
    quantity: int,
    owner: str,
    event_date_id: uuid.UUID | None = None,
    organization_id: uuid.UUID | None = None,
) -> Hold:
    """Sell ``quantity`` units without a prior hold (box office, complimentary tickets):
    the same pools and locks as :func:`place_hold`, counted as ``sold`` at once, recorded
    as a ``converted`` hold row (the sales ledger). No buyer rules apply (any visibility,
    any status, outside the sale window); capacity always does.

    Raises :class:`SoldOut` (409) when a pool lacks room after reclaiming expired holds.
    """
    return await _take(
        session,
        status=HoldStatus.CONVERTED,
        organization_id=organization_id,
        event_id=event_id,
        ticket_type_id=ticket_type_id,
        event_date_id=event_date_id,
        quantity=quantity,
        owner=owner,
        seconds=0,
        enforce_sale_rules=False,
        allow_promo=True,
    )


async def _lock_hold(
    session: AsyncSession,
    *,
    hold_id: uuid.UUID,
    owner: str | None,
    organization_id: uuid.UUID | None,
    event_id: uuid.UUID | None,
) -> InventoryHold:
    """Shared advisory lock of the hold's event, then the hold row (``FOR UPDATE``)."""
    await session.execute(_HOLD_ADVISORY, {"ns": ADVISORY_NAMESPACE, "hold_id": hold_id})
    query = (
        select(InventoryHold)
        .where(InventoryHold.id == hold_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if organization_id is not None:
        query = query.where(InventoryHold.organization_id == organization_id)
    if event_id is not None:
        query = query.where(InventoryHold.event_id == event_id)
    hold = await session.scalar(query)
    if hold is None or (owner is not None and hold.owner != owner):
        raise HoldNotFound(f"No hold {hold_id}.")
    return hold


async def _close(session: AsyncSession, hold: InventoryHold, status: HoldStatus) -> None:
    closed_at = await session.scalar(
        update(InventoryHold)
        .where(InventoryHold.id == hold.id)
        .values(status=status, closed_at=func.now())
        .returning(InventoryHold.closed_at)
        .execution_options(synchronize_session=False)
    )
    set_committed_value(hold, "status", status)
    set_committed_value(hold, "closed_at", closed_at)


async def release_hold(
    session: AsyncSession,
    *,
    hold_id: uuid.UUID,
    owner: str | None = None,
    organization_id: uuid.UUID | None = None,
    event_id: uuid.UUID | None = None,
) -> InventoryHold:
    """Give a hold's units back (cart emptied, item removed): its remaining pool shares
    are deleted and ``held`` drops by them; the hold becomes ``released``.

    Idempotent for a released hold. ``owner``/``organization_id``/``event_id``, when
    given, must match or the hold is not found (:class:`HoldNotFound`, 404). A converted
    hold raises :class:`HoldNotActive` (409).
    """
    hold = await _lock_hold(
        session, hold_id=hold_id, owner=owner, organization_id=organization_id, event_id=event_id
    )
    if hold.status is HoldStatus.RELEASED:
        return hold
    if hold.status is not HoldStatus.ACTIVE:
        raise HoldNotActive(
            f"Hold {hold_id} is {hold.status.value}.", hold_status=hold.status.value
        )
    await session.execute(_LOCK_SHARED_POOLS, {"hold_id": hold_id})
    await session.execute(_RELEASE_SHARES, {"hold_id": hold_id})
    await _close(session, hold, HoldStatus.RELEASED)
    count_on_commit(session, HOLD_RELEASED)
    return hold


async def convert_hold(
    session: AsyncSession,
    *,
    hold_id: uuid.UUID,
    owner: str | None = None,
    organization_id: uuid.UUID | None = None,
    event_id: uuid.UUID | None = None,
) -> InventoryHold:
    """Turn a hold into a sale (order placed, box office issuing a held ticket).

    Locks the hold, then every pool it touches in id order: each applicable pool where
    the hold still has its share moves the units from ``held`` to ``sold``; an applicable
    pool where the share was reclaimed after expiry (or that was created after the hold)
    must have free room for them, after reclaiming other expired shares, or the whole
    conversion fails with :class:`SoldOut` (409) and nothing changes (the caller's
    transaction must roll back). A share in a pool that no longer applies is just given
    back. The hold becomes ``converted``; an expired hold may still convert when room
    allows. :class:`HoldNotActive` (409) for a released or converted hold.
    """
    hold = await _lock_hold(
        session, hold_id=hold_id, owner=owner, organization_id=organization_id, event_id=event_id
    )
    if hold.status is not HoldStatus.ACTIVE:
        raise HoldNotActive(
            f"Hold {hold_id} is {hold.status.value}.", hold_status=hold.status.value
        )
    params = {
        "event_id": hold.event_id,
        "event_date_id": hold.event_date_id,
        "ticket_type_id": hold.ticket_type_id,
        "hold_id": hold.id,
    }
    pools = (await session.execute(_LOCK_HOLD_POOLS, params)).all()
    shares = {
        row.pool_id: int(row.quantity)
        for row in (await session.execute(_HOLD_SHARES, {"hold_id": hold.id})).all()
    }
    quantity = hold.quantity
    free = {row.id: int(row.free) for row in pools}
    needing = [row.id for row in pools if row.applies and row.id not in shares]
    short = [pool_id for pool_id in needing if free[pool_id] < quantity]
    if short:
        await _reclaim(session, short)
        rows = await session.execute(
            select(InventoryPool.id, InventoryPool.capacity, InventoryPool.sold, InventoryPool.held)
            .where(InventoryPool.id.in_(short))
            .execution_options(populate_existing=True)
        )
        for row in rows:
            free[row.id] = row.capacity - row.sold - row.held
        still_short = [pool_id for pool_id in short if free[pool_id] < quantity]
        if still_short:
            available = max(0, min(free[pool_id] for pool_id in still_short))
            raise SoldOut(
                "The hold expired and its units went to someone else.",
                available=available,
                requested=quantity,
                ticket_type_id=str(hold.ticket_type_id),
                hold_id=str(hold.id),
            )
    pool_ids = [row.id for row in pools]
    await session.execute(
        _CONVERT_COUNTERS,
        {
            "hold_id": hold.id,
            "pool_ids": pool_ids,
            "sold": [quantity if row.applies else 0 for row in pools],
            "held": [shares.get(row.id, 0) for row in pools],
        },
    )
    await _close(session, hold, HoldStatus.CONVERTED)
    count_on_commit(session, HOLD_CONVERTED)
    return hold


async def return_to_stock(
    session: AsyncSession,
    *,
    hold_id: uuid.UUID,
    quantity: int,
    organization_id: uuid.UUID | None = None,
    event_id: uuid.UUID | None = None,
) -> InventoryHold:
    """Give ``quantity`` units of a sale back to stock (a voided ticket, a refund).

    The sale is a ``converted`` hold row (:func:`convert_hold`, :func:`sell_directly`);
    it stays ``converted`` and its ``returned`` grows by ``quantity``, so the ledger keeps
    counting it as ``quantity - returned`` sold units. Every pool that applies to its
    ticket type and date now gets ``sold -= quantity`` (a pool created after the sale was
    counted with it). Locks: the shared advisory lock, the hold row, then those pools in
    id order. Announce the availability after the commit.

    :class:`HoldNotFound` (404) for an unknown hold or one outside
    ``organization_id``/``event_id``; :class:`HoldNotActive` (409) when it is not a sale;
    ``UnprocessableContent`` (422, with ``returnable``) when ``quantity`` is below 1 or
    more than is left to return. Returns the hold with ``returned`` updated.
    """
    hold = await _lock_hold(
        session, hold_id=hold_id, owner=None, organization_id=organization_id, event_id=event_id
    )
    if hold.status is not HoldStatus.CONVERTED:
        raise HoldNotActive(
            f"Hold {hold_id} is {hold.status.value}: only a sale goes back to stock.",
            hold_status=hold.status.value,
        )
    returnable = hold.quantity - hold.returned
    if quantity < 1 or quantity > returnable:
        raise UnprocessableContent(
            f"Between 1 and {returnable} units of this sale can go back to stock "
            f"({hold.returned} of {hold.quantity} already returned)."
            if returnable
            else f"All {hold.quantity} units of this sale are back in stock already.",
            code="return-quantity",
            returnable=returnable,
            requested=quantity,
        )
    await session.execute(
        _RETURN_COUNTERS,
        {
            "event_id": hold.event_id,
            "event_date_id": hold.event_date_id,
            "ticket_type_id": hold.ticket_type_id,
            "quantity": quantity,
        },
    )
    returned = await session.scalar(
        update(InventoryHold)
        .where(InventoryHold.id == hold.id)
        .values(returned=InventoryHold.returned + quantity)
        .returning(InventoryHold.returned)
        .execution_options(synchronize_session=False)
    )
    set_committed_value(hold, "returned", returned)
    return hold
