"""Checkout: the one command that turns a buyer's holds into an order awaiting payment.

All of it runs in the caller's transaction, so a refusal at any step writes nothing:

1. the owner's unexpired holds move onto the order in one statement
   (:func:`inventory.attach_holds`, owner ``order:<id>``, under the event's shared
   inventory lock, taken before any row is written -- see the inventory rules): their
   expiry becomes the payment deadline; no pool counter changes, so checkouts never
   queue on a hot pool row. The same statement reads the event's catalog version, so
   the event, ticket types, dates and questions come from this process's cache
   (:func:`event_catalog`) when nothing changed. Not published: 404; nothing held: 422
   ``cart-empty`` (also what a second, concurrent checkout of the same cart gets once
   the first has taken the holds);
2. each attendee's answers checked against the event's questions (422
   ``answers-invalid``);
3. every line re-priced and taxed now (:func:`.cart.price_cart`: what the buyer saw in
   the cart was a quote, not a promise), with the promo code and billing details given;
4. each ticket type within its per-order limits, then ``ticketing_checkout_validate``: any
   veto is 409 ``checkout-vetoed``;
5. the payment is started (a free order is paid on the spot) when its provider answers
   locally; a provider that calls out (Stripe) gets its payment row ``pending`` and
   :attr:`PlacedOrder.call`: the caller commits, then asks the provider outside the
   transaction (:mod:`.payment_start`);
6. the order (its ``expires_at`` is the holds' new expiry), its lines, its first
   transition and its payment, written in one statement;
7. ``ticketing_checkout_before_order_placed`` (raising aborts, the payment with it).

After the commit (and the provider's answer) the caller runs
``ticketing_checkout_after_order_placed``.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.events import EventStatus, event_catalog, inventory
from builtin_plugins.events.inventory import InventoryHold
from builtin_plugins.orders import fulfilment, payments, question_cache, questions
from builtin_plugins.orders.cart import PricedCart, price_cart, vetoes
from builtin_plugins.orders.lifecycle import record_transition
from builtin_plugins.orders.models import Order, OrderLine, OrderStatus, Payment
from builtin_plugins.orders.payments import PaymentCall
from builtin_plugins.orders.settings import order_settings
from sdk import Conflict, Kernel, Money, NotFound, TaxableParty, UnprocessableContent
from sdk.codes import random_code
from sdk.db import insert_new, new_row

CODE_LENGTH = 10  # 50 random bits: not guessable, short enough to read out


class CartEmpty(UnprocessableContent):
    code, title = "cart-empty", "Nothing is held for this event"


class CheckoutVetoed(Conflict):
    code, title = "checkout-vetoed", "The checkout was refused"


class AttendeesMismatch(UnprocessableContent):
    code, title = "attendees-mismatch", "Attendees do not match the cart"


@dataclass(frozen=True, slots=True)
class Attendee:
    name: str
    email: str
    answers: Mapping[str, Any] | None = None  # question id -> answer


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
    #: The event, ticket type and date rows checkout read (the answer's view uses them).
    catalog: tuple[Any, ...] = ()
    #: The provider to ask after the commit (``payment`` is then pending, no reference).
    call: PaymentCall | None = None


def new_order_code() -> str:
    return random_code(CODE_LENGTH)


def hash_access_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _attendees(
    holds: Sequence[InventoryHold],
    given: Sequence[LineAttendees] | None,
    buyer: Attendee,
    asked: Sequence[Any],
) -> dict[uuid.UUID, list[dict[str, Any]]]:
    """Per hold, one attendee per unit (as given, else the buyer for every unit), each
    with their answers to the event's questions, checked."""
    by_hold = {line.hold_id: line.attendees for line in given or ()}
    position = {line.hold_id: index for index, line in enumerate(given or ())}
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
        result[hold.id] = [
            {
                "name": p.name,
                "email": p.email,
                "answers": questions.check_answers(
                    asked,
                    ticket_type_id=hold.ticket_type_id,
                    answers=p.answers,
                    where=("body", "attendees", position[hold.id], "attendees", index, "answers")
                    if hold.id in position
                    else ("body", "attendees"),
                ),
            }
            for index, p in enumerate(people)
        ]
    return result


async def place_order(
    session: AsyncSession,
    kernel: Kernel,
    *,
    event_id: uuid.UUID,
    owner: str,
    buyer_user_id: uuid.UUID | None,
    buyer_name: str,
    buyer_email: str,
    attendees: Sequence[LineAttendees] | None,
    provider: str | None,
    promo_code: str | None = None,
    billing: Mapping[str, Any] | None = None,
) -> PlacedOrder:
    """Place ``owner``'s cart for the event as an order (see the module's steps).

    ``billing`` (company, country, region, tax_id) is who is invoiced: the tax rules
    read its country, region and tax id.
    """
    order_id = uuid.uuid4()
    attached = await inventory.attach_holds(
        session,
        event_id=event_id,
        owner=owner,
        new_owner=f"order:{order_id}",
        expires_in_seconds=order_settings().payment_minutes * 60,
    )
    catalog = await event_catalog(session, event_id, version=attached.catalog_version)
    if catalog is None or catalog.event.status is not EventStatus.PUBLISHED:
        raise NotFound(f"No published event {event_id}.")
    event = catalog.event
    if not attached.holds:
        raise CartEmpty("Hold tickets first: nothing is held for this event (or it expired).")
    moved = attached.holds
    holds = sorted(moved, key=lambda hold: (hold.created_at, hold.id))
    billing = {key: value for key, value in (billing or {}).items() if value}
    asked = await question_cache.questions_of_event(
        session, event_id=event.id, version=catalog.version
    )
    people = _attendees(holds, attendees, Attendee(name=buyer_name, email=buyer_email), asked)

    priced = await price_cart(
        session,
        kernel,
        event=event,
        holds=holds,
        buyer_user_id=buyer_user_id,
        promo_code=promo_code,
        buyer=TaxableParty(
            country=billing.get("country"),
            region=billing.get("region"),
            tax_id=billing.get("tax_id"),
        ),
        catalog=catalog,
    )
    refused = await vetoes(kernel, priced, buyer_id=buyer_user_id, buyer_email=buyer_email)
    if refused:
        raise CheckoutVetoed(
            "; ".join(veto.reason for veto in refused) or None,
            vetoes=[{"code": veto.code, "reason": veto.reason} for veto in refused],
        )

    payment_provider = await payments.provider_key(
        kernel,
        organization_id=event.organization_id,
        order_id=order_id,
        total=Money(priced.total, priced.currency),
        provider=provider,
    )
    access_token = secrets.token_urlsafe(32)
    order = new_row(
        Order,
        id=order_id,
        organization_id=event.organization_id,
        code=new_order_code(),
        event_id=event.id,
        buyer_user_id=buyer_user_id,
        buyer_email=buyer_email,
        buyer_name=buyer_name,
        hold_owner=owner,
        access_token_hash=hash_access_token(access_token),
        currency=priced.currency,
        subtotal_amount=priced.subtotal,
        discount_amount=priced.discount,
        tax_amount=priced.tax,
        fee_amount=priced.fee,
        total_amount=priced.total,
        promo_code=promo_code,
        billing=billing,
        payment_provider=payment_provider,
        expires_at=moved[0].expires_at,  # the holds' new expiry: one deadline for both
    )
    session.add(order)
    await record_transition(
        session, order, OrderStatus.PENDING_PAYMENT, actor="buyer", actor_user_id=buyer_user_id
    )
    lines = _order_lines(order, priced, people)
    session.add_all(lines)
    # the order, its transition, event, lines and payment: written in one round trip
    payment, call = await payments.begin_payment(session, kernel, order, provider=payment_provider)
    await insert_new(session)  # (when the payment start wrote nothing itself)

    snapshot = fulfilment.order_snapshot(order, lines, catalog_version=catalog.version)
    await kernel.hooks.call(
        "ticketing_checkout_before_order_placed",
        organization_id=order.organization_id,
        order=snapshot,
        session=session,
    )
    catalog = (
        event,
        *{line.ticket_type.id: line.ticket_type for line in priced.lines}.values(),
        *{line.event_date.id: line.event_date for line in priced.lines}.values(),
    )
    return PlacedOrder(
        order=order,
        lines=lines,
        payment=payment,
        access_token=access_token,
        catalog=catalog,
        call=call,
    )


def _order_lines(
    order: Order, priced: PricedCart, people: Mapping[uuid.UUID, list[dict[str, Any]]]
) -> list[OrderLine]:
    return [
        new_row(
            OrderLine,
            id=uuid.uuid4(),
            organization_id=order.organization_id,
            order_id=order.id,
            position=position,
            ticket_type_id=line.hold.ticket_type_id,
            event_date_id=line.hold.event_date_id,
            hold_id=line.hold.id,
            quantity=line.hold.quantity,
            unit_price_amount=line.quote.unit_price,
            discount_amount=line.discount,
            net_amount=line.tax.net,
            tax_amount=line.tax.tax,
            gross_amount=line.tax.gross,
            pricing=line.breakdown(),
            attendees=people[line.hold.id],
        )
        for position, line in enumerate(priced.lines, start=1)
    ]
