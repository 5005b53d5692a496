"""Public price quotes: what a line of tickets costs now, and why (no sign-in needed)."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import select

from builtin_plugins.events.models import Event, EventDate, EventStatus, TicketType, Visibility
from builtin_plugins.events.pricing import adjustment_view, quote
from builtin_plugins.events.ticket_schemas import PromoCode
from sdk import CheckoutCart, CheckoutLine, CheckoutVeto, Money, NotFound, UnprocessableContent
from sdk.http import KernelDep, SessionDep, public
from sdk.pricing import checkout_vetoes, unlocked_ticket_types

router = APIRouter(prefix="/events", tags=["pricing"], dependencies=[public()])

MAX_QUOTE_QUANTITY = 1000


class QuantityOutOfRange(UnprocessableContent):
    code, title = "quantity-out-of-range", "Quantity out of range"


class PriceAdjustmentPublic(BaseModel):
    stage: str  # dynamic, discount, fee, tax: the order adjustments are applied in
    code: str  # the strategy that made the change
    label: str
    amount: int  # signed change of the unit price, minor units


class QuotePublic(BaseModel):
    event_id: uuid.UUID
    ticket_type_id: uuid.UUID
    event_date_id: uuid.UUID | None
    quantity: int
    currency: str
    base_unit_price: int
    adjustments: list[PriceAdjustmentPublic]
    unit_price: int
    total: int
    promo_code: str | None = Field(description="The code quoted with, as stored (upper case)")
    problems: list[CheckoutVeto] = Field(
        description="What checkout would refuse about this line now (an unknown, expired or "
        "used-up promo code, ...): `code` and a `reason` to show the buyer; empty when none"
    )


@router.get(
    "/{event_id}/ticket-types/{ticket_type_id}/quote",
    response_model=QuotePublic,
    summary="Price of a line of tickets now, with each change that made it",
)
async def quote_ticket_type(
    event_id: uuid.UUID,
    ticket_type_id: uuid.UUID,
    session: SessionDep,
    kernel: KernelDep,
    quantity: Annotated[int, Query(ge=1, le=MAX_QUOTE_QUANTITY)] = 1,
    date_id: Annotated[uuid.UUID | None, Query()] = None,
    promo_code: Annotated[
        PromoCode | None,
        Query(description="A promo code: its discount shows, and types it unlocks can be quoted"),
    ] = None,
) -> QuotePublic:
    """Quote ``quantity`` tickets of a public ticket type of a published event (or of a
    promo-only type that ``promo_code`` unlocks).

    Amounts are integer minor units of ``currency``. ``unit_price`` is ``base_unit_price``
    plus every ``adjustments[].amount``, in the order listed; ``total`` is
    ``unit_price * quantity``. Dynamic prices move with time and sales: a quote is not a
    reservation. ``problems`` says what checkout would refuse about this line (a promo code
    that does not apply shows no discount, and a problem saying why).
    """
    event = await session.scalar(
        select(Event).where(Event.id == event_id, Event.status == EventStatus.PUBLISHED)
    )
    if event is None:
        raise NotFound(f"No published event {event_id}.")
    ticket_type = await session.scalar(
        select(TicketType).where(
            TicketType.id == ticket_type_id,
            TicketType.event_id == event.id,
            TicketType.visibility.in_((Visibility.PUBLIC, Visibility.PROMO)),
        )
    )
    if ticket_type is not None and ticket_type.visibility == Visibility.PROMO:
        unlocked = await unlocked_ticket_types(
            kernel.hooks,
            organization_id=event.organization_id,
            event_id=event.id,
            promo_code=promo_code,
        )
        if ticket_type.id not in unlocked:
            ticket_type = None
    if ticket_type is None:
        raise NotFound(f"No ticket type {ticket_type_id} on sale for event {event_id}.")
    event_date = None
    if date_id is not None:
        event_date = await session.scalar(
            select(EventDate).where(EventDate.id == date_id, EventDate.event_id == event.id)
        )
        if event_date is None:
            raise NotFound(f"Event {event_id} has no date {date_id}.")
    if not ticket_type.min_per_order <= quantity <= ticket_type.max_per_order:
        raise QuantityOutOfRange(
            f"Between {ticket_type.min_per_order} and {ticket_type.max_per_order} tickets "
            "of this type can be bought at once."
        )

    line = await quote(
        session,
        kernel.hooks,
        event=event,
        ticket_type=ticket_type,
        quantity=quantity,
        event_date=event_date,
        promo_code=promo_code,
    )
    cart = CheckoutCart(
        organization_id=event.organization_id,
        event_id=event.id,
        buyer_id=None,
        lines=(
            CheckoutLine(ticket_type.id, quantity, Money(line.unit_price, line.context.currency)),
        ),
        total=Money(line.total, line.context.currency),
        promo_code=promo_code,
    )
    return QuotePublic(
        event_id=event.id,
        ticket_type_id=ticket_type.id,
        event_date_id=event_date.id if event_date is not None else None,
        quantity=quantity,
        currency=line.context.currency,
        base_unit_price=line.base_unit_price,
        adjustments=[
            PriceAdjustmentPublic(**adjustment_view(adjustment)) for adjustment in line.adjustments
        ],
        unit_price=line.unit_price,
        total=line.total,
        promo_code=promo_code,
        problems=await checkout_vetoes(kernel.hooks, cart),
    )
