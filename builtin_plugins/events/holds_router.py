"""What buyers see and do before checkout: availability, and holds on tickets.

Public: anonymous buyers identify their cart with a ``cart_token``; a signed-in buyer
(bearer token or session cookie) is identified by the user instead. Each hold is one
statement committed on its own (see :mod:`builtin_plugins.events.inventory`); the new
availability is announced after it.

Ticket types of visibility ``promo`` stay out of sight until the buyer shows a code: with
``promo_code`` the availability also lists, and a hold may take, the types the code
unlocks (the union of every plugin's ``ticketing_pricing_unlocked_ticket_types``).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy import select

from builtin_plugins.events import inventory
from builtin_plugins.events.inventory import cart_owner
from builtin_plugins.events.inventory._metrics import HOLDS_PLACED
from builtin_plugins.events.models import (
    Event,
    EventDate,
    EventStatus,
    TicketType,
    Visibility,
)
from builtin_plugins.events.ticket_schemas import (
    CartToken,
    EventAvailability,
    HoldCreate,
    HoldOut,
    PromoCode,
    TicketTypeAvailability,
    sale_state,
)
from sdk import NotFound
from sdk.clock import utcnow
from sdk.http import KernelDep, SessionDep, admitted, public, public_or_signed_in
from sdk.pricing import unlocked_ticket_types

router = APIRouter(prefix="/events/{event_id}", tags=["availability and holds"])


async def _organization_of(kernel, event_id: uuid.UUID) -> uuid.UUID:
    """The published event's organization (404 otherwise), read before the hold's
    transaction so the unlock hook never runs while inventory is locked."""
    async with kernel.database.sessions() as session:
        organization_id = await session.scalar(
            select(Event.organization_id).where(
                Event.id == event_id, Event.status == EventStatus.PUBLISHED
            )
        )
    if organization_id is None:
        raise NotFound(f"No published event {event_id}.")
    return organization_id


@router.get(
    "/availability",
    summary="What is left of each public ticket type of a published event",
    dependencies=[public()],
)
async def event_availability(
    event_id: uuid.UUID,
    session: SessionDep,
    kernel: KernelDep,
    date_id: Annotated[uuid.UUID | None, Query(description="One date of a series")] = None,
    promo_code: Annotated[
        PromoCode | None, Query(description="Also list the ticket types this code unlocks")
    ] = None,
) -> EventAvailability:
    event = await session.scalar(
        select(Event).where(Event.id == event_id, Event.status == EventStatus.PUBLISHED)
    )
    if event is None:
        raise NotFound(f"No published event {event_id}.")
    dates = list(
        await session.scalars(
            select(EventDate.id).where(EventDate.event_id == event_id).order_by(EventDate.starts_at)
        )
    )
    if date_id is not None and date_id not in dates:
        raise NotFound(f"No date {date_id} for event {event_id}.")
    if date_id is None and len(dates) == 1:
        date_id = dates[0]
    numbers = await inventory.availability(session, event_id=event_id, event_date_id=date_id)
    unlocked = await unlocked_ticket_types(
        kernel.hooks,
        organization_id=event.organization_id,
        event_id=event_id,
        promo_code=promo_code,
    )
    shown = TicketType.visibility == Visibility.PUBLIC
    if unlocked:
        shown |= (TicketType.visibility == Visibility.PROMO) & TicketType.id.in_(unlocked)
    listed = await session.scalars(
        select(TicketType)
        .where(TicketType.event_id == event_id, shown)
        .order_by(TicketType.position, TicketType.name, TicketType.id)
    )
    now = utcnow()
    entries = []
    for t in listed:
        found = numbers.get(t.id)
        available = found.available if found else None
        entries.append(
            TicketTypeAvailability(
                id=t.id,
                name=t.name,
                description=t.description,
                price_amount=t.price_amount,
                currency=t.currency,
                min_per_order=t.min_per_order,
                max_per_order=t.max_per_order,
                sale_starts_at=t.sale_starts_at,
                sale_ends_at=t.sale_ends_at,
                sale_state=sale_state(now, t.sale_starts_at, t.sale_ends_at),
                available=available,
                sold_out=available is not None and available < t.min_per_order,
            )
        )
    return EventAvailability(event_id=event_id, date_id=date_id, ticket_types=entries)


@router.post(
    "/holds",
    summary="Hold tickets for a cart until the hold expires (409 sold-out when none left)",
    status_code=201,
    dependencies=[public_or_signed_in(), admitted(per="event_id")],
    responses={409: {"description": "Sold out, or not on sale"}},
)
async def place_hold(
    event_id: uuid.UUID, body: HoldCreate, request: Request, kernel: KernelDep
) -> HoldOut:
    owner, _ = await cart_owner(request, body.cart_token)
    allow_promo = False
    if body.promo_code:
        organization_id = await _organization_of(kernel, event_id)
        unlocked = await unlocked_ticket_types(
            kernel.hooks,
            organization_id=organization_id,
            event_id=event_id,
            promo_code=body.promo_code,
        )
        allow_promo = body.ticket_type_id in unlocked
    async with kernel.database.autocommit() as connection:  # one statement, committed alone
        hold = await inventory.place_hold(
            connection,
            event_id=event_id,
            ticket_type_id=body.ticket_type_id,
            event_date_id=body.date_id,
            quantity=body.quantity,
            owner=owner,
            allow_promo=allow_promo,
        )
    HOLDS_PLACED.inc()  # committed: the statement committed on its own
    await inventory.announce_availability(
        kernel, event_id=event_id, event_date_id=hold.event_date_id
    )
    return HoldOut(
        id=hold.id,
        event_id=hold.event_id,
        ticket_type_id=hold.ticket_type_id,
        date_id=hold.event_date_id,
        quantity=hold.quantity,
        expires_at=hold.expires_at,
    )


@router.delete(
    "/holds/{hold_id}",
    summary="Release my hold (someone else's is not found)",
    status_code=204,
    dependencies=[public_or_signed_in()],
)
async def release_hold(
    event_id: uuid.UUID,
    hold_id: uuid.UUID,
    request: Request,
    kernel: KernelDep,
    cart_token: Annotated[CartToken | None, Query()] = None,
) -> Response:
    owner, _ = await cart_owner(request, cart_token)
    async with kernel.database.transaction() as session:
        hold = await inventory.release_hold(
            session, hold_id=hold_id, owner=owner, event_id=event_id
        )
    await inventory.announce_availability(
        kernel, event_id=event_id, event_date_id=hold.event_date_id
    )
    return Response(status_code=204)
