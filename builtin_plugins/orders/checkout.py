"""Checkout: the one command that turns a buyer's holds into an order awaiting payment.

All of it runs in the caller's transaction, so a refusal at any step writes nothing:

1. the event's shared inventory lock (before any row is written: the order's foreign
   keys lock the event, ticket types and holds ``FOR KEY SHARE``, and a structural
   change holding the exclusive lock may be deleting them -- see the inventory rules),
   the published event and the owner's unexpired holds (none: 422 ``cart-empty``);
2. every line re-priced now through the pricing hooks (what the buyer saw in the cart
   was a quote, not a promise);
3. ``ticketing_checkout_validate``: any veto is 409 ``checkout-vetoed``;
4. the holds move onto the order (:func:`inventory.attach_holds`, owner
   ``order:<id>``): their expiry becomes the payment deadline; no pool counter changes,
   so checkouts never queue on a hot pool row. They must be exactly the holds priced
   (409 ``cart-changed``: a concurrent checkout or release of the same cart);
5. the order (its ``expires_at`` is the holds' new expiry), its lines and its first
   transition;
6. ``ticketing_checkout_before_order_placed`` (raising aborts);
7. the payment is started (a free order is paid on the spot).

After the commit the caller runs ``ticketing_checkout_after_order_placed``.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.events import inventory
from builtin_plugins.events.models import (
    Event,
    EventDate,
    EventStatus,
    HoldStatus,
    InventoryHold,
    TicketType,
)
from builtin_plugins.events.pricing import adjustment_view, quote
from builtin_plugins.orders import fulfilment, payments
from builtin_plugins.orders.lifecycle import record_transition
from builtin_plugins.orders.models import Order, OrderLine, OrderStatus, Payment
from builtin_plugins.orders.settings import order_settings
from kernel.awaitables import await_all
from kernel.clock import utcnow
from kernel.codes import random_code
from kernel.contracts import CheckoutCart, CheckoutLine, LineQuote, Money
from kernel.problems import Conflict, NotFound, UnprocessableContent

CODE_LENGTH = 10  # 50 random bits: not guessable, short enough to read out


class CartEmpty(UnprocessableContent):
    code, title = "cart-empty", "Nothing is held for this event"


class CheckoutVetoed(Conflict):
    code, title = "checkout-vetoed", "The checkout was refused"


class CartChanged(Conflict):
    code, title = "cart-changed", "The cart changed during checkout"


class AttendeesMismatch(UnprocessableContent):
    code, title = "attendees-mismatch", "Attendees do not match the cart"


@dataclass(frozen=True, slots=True)
class Attendee:
    name: str
    email: str


@dataclass(frozen=True, slots=True)
class LineAttendees:
    """Who each ticket of one held line is for (one per unit)."""

    hold_id: uuid.UUID
    attendees: Sequence[Attendee]


@dataclass(frozen=True, slots=True)
class PlacedOrder:
    order: Order
    lines: list[OrderLine]
    payment: Payment | None
    access_token: str  # shown once: only its hash is stored


def new_order_code() -> str:
    return random_code(CODE_LENGTH)


def hash_access_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def active_holds(
    session: AsyncSession, *, event_id: uuid.UUID, owner: str
) -> list[InventoryHold]:
    """The owner's unexpired holds of the event, oldest first: the cart."""
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


def _attendees(
    holds: Sequence[InventoryHold],
    given: Sequence[LineAttendees] | None,
    buyer: Attendee,
) -> dict[uuid.UUID, list[dict[str, str]]]:
    """Per hold, one attendee per unit: as given, else the buyer for every unit."""
    by_hold = {line.hold_id: line.attendees for line in given or ()}
    quantities = {hold.id: hold.quantity for hold in holds}
    unknown = sorted(str(hold_id) for hold_id in by_hold if hold_id not in quantities)
    if unknown:
        raise AttendeesMismatch("Attendees name holds not in the cart.", hold_ids=unknown)
    result = {}
    for hold in holds:
        people = by_hold.get(hold.id)
        if people is not None and len(people) != hold.quantity:
            raise AttendeesMismatch(
                f"Hold {hold.id} is for {hold.quantity} tickets: name {hold.quantity} "
                f"attendees, not {len(people)}.",
                hold_id=str(hold.id),
            )
        people = people if people is not None else [buyer] * hold.quantity
        result[hold.id] = [{"name": p.name, "email": p.email} for p in people]
    return result


async def _price(
    session: AsyncSession,
    kernel: Any,
    event: Event,
    holds: Sequence[InventoryHold],
    buyer_user_id: uuid.UUID | None,
) -> list[LineQuote]:
    """Each hold's line priced now, all at one instant."""
    type_ids = {hold.ticket_type_id for hold in holds}
    date_ids = {hold.event_date_id for hold in holds}
    types = {
        t.id: t
        for t in await session.scalars(select(TicketType).where(TicketType.id.in_(type_ids)))
    }
    dates = {
        d.id: d for d in await session.scalars(select(EventDate).where(EventDate.id.in_(date_ids)))
    }
    at = utcnow()
    return [
        await quote(
            session,
            kernel.plugins,
            event=event,
            ticket_type=types[hold.ticket_type_id],
            quantity=hold.quantity,
            event_date=dates[hold.event_date_id],
            at=at,
            buyer_id=buyer_user_id,
        )
        for hold in holds
    ]


def _breakdown(line: LineQuote) -> dict[str, Any]:
    return {
        "base_unit_price": line.base_unit_price,
        "adjustments": [adjustment_view(adjustment) for adjustment in line.adjustments],
        "unit_price": line.unit_price,
        "quoted_at": line.context.at.isoformat(),
    }


async def _vetoes(kernel: Any, cart: CheckoutCart) -> list[dict[str, str]]:
    answers = await await_all(kernel.plugins.hook.ticketing_checkout_validate(cart=cart))
    return [
        {"code": veto.code, "reason": veto.reason} for answer in answers for veto in answer or ()
    ]


async def place_order(
    session: AsyncSession,
    kernel: Any,
    *,
    event_id: uuid.UUID,
    owner: str,
    buyer_user_id: uuid.UUID | None,
    buyer_name: str,
    buyer_email: str,
    attendees: Sequence[LineAttendees] | None,
    provider: str | None,
) -> PlacedOrder:
    """Place ``owner``'s cart for the event as an order (see the module's steps)."""
    await inventory.lock_event_inventory(session, event_id=event_id, exclusive=False)
    event = await session.scalar(
        select(Event).where(Event.id == event_id, Event.status == EventStatus.PUBLISHED)
    )
    if event is None:
        raise NotFound(f"No published event {event_id}.")
    holds = await active_holds(session, event_id=event_id, owner=owner)
    if not holds:
        raise CartEmpty("Hold tickets first: nothing is held for this event (or it expired).")
    people = _attendees(holds, attendees, Attendee(name=buyer_name, email=buyer_email))

    quotes = await _price(session, kernel, event, holds, buyer_user_id)
    currency = event.currency
    subtotal = sum(q.total for q in quotes)
    cart = CheckoutCart(
        organization_id=event.organization_id,
        event_id=event.id,
        buyer_id=buyer_user_id,
        lines=tuple(
            CheckoutLine(
                ticket_type_id=hold.ticket_type_id,
                quantity=hold.quantity,
                unit_price=Money(q.unit_price, currency),
            )
            for hold, q in zip(holds, quotes, strict=True)
        ),
        total=Money(subtotal, currency),
    )
    vetoes = await _vetoes(kernel, cart)
    if vetoes:
        raise CheckoutVetoed("; ".join(veto["reason"] for veto in vetoes) or None, vetoes=vetoes)

    minutes = order_settings().payment_minutes
    order_id = uuid.uuid4()
    moved = await inventory.attach_holds(
        session,
        event_id=event.id,
        owner=owner,
        new_owner=f"order:{order_id}",
        expires_in_seconds=minutes * 60,
        organization_id=event.organization_id,
    )
    if sorted(hold.id for hold in moved) != sorted(hold.id for hold in holds):
        raise CartChanged("The cart changed while checking out: review it and try again.")

    access_token = secrets.token_urlsafe(32)
    order = Order(
        id=order_id,
        organization_id=event.organization_id,
        code=new_order_code(),
        event_id=event.id,
        buyer_user_id=buyer_user_id,
        buyer_email=buyer_email,
        buyer_name=buyer_name,
        hold_owner=owner,
        access_token_hash=hash_access_token(access_token),
        currency=currency,
        subtotal_amount=subtotal,
        discount_amount=0,
        tax_amount=0,
        fee_amount=0,
        total_amount=subtotal,
        expires_at=moved[0].expires_at,  # the holds' new expiry: one deadline for both
    )
    session.add(order)
    await record_transition(
        session, order, OrderStatus.PENDING_PAYMENT, actor="buyer", actor_user_id=buyer_user_id
    )
    lines = [
        OrderLine(
            id=uuid.uuid4(),
            organization_id=order.organization_id,
            order_id=order.id,
            position=position,
            ticket_type_id=hold.ticket_type_id,
            event_date_id=hold.event_date_id,
            hold_id=hold.id,
            quantity=hold.quantity,
            unit_price_amount=q.unit_price,
            discount_amount=0,
            net_amount=q.total,
            tax_amount=0,
            gross_amount=q.total,
            pricing=_breakdown(q),
            attendees=people[hold.id],
        )
        for position, (hold, q) in enumerate(zip(holds, quotes, strict=True), start=1)
    ]
    session.add_all(lines)
    await session.flush()

    snapshot = fulfilment.order_snapshot(order, lines)
    await await_all(
        kernel.plugins.hook.ticketing_checkout_before_order_placed(order=snapshot, session=session)
    )
    payment = await payments.start_payment(session, kernel, order, provider=provider)
    return PlacedOrder(order=order, lines=lines, payment=payment, access_token=access_token)
