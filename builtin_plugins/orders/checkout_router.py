"""``POST /events/{event_id}/checkout``: a buyer's holds become an order awaiting payment.

Public. A signed-in buyer's cart is their user (name and email default to the account);
an anonymous buyer names the ``cart_token`` their holds were placed with and says who
they are. The answer carries the order's access token, shown only here.

``Idempotency-Key`` makes a retry safe: the same key and body returns the first order
(never a second one); the key is scoped to the cart and the event.

A provider that calls out (Stripe) is asked after the order is committed
(:mod:`.payment_start`): its answer is recorded, and the idempotent answer remembered, in
a second short transaction. When it cannot start the payment, the order is cancelled,
the holds go back to the cart and the key is forgotten; the buyer gets the provider's
problem, as if nothing had been placed, and simply checks out again.
"""

from __future__ import annotations

import dataclasses
import uuid

from fastapi import APIRouter, Request
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.events.inventory import cart_owner
from builtin_plugins.orders import fulfilment, orders_service
from builtin_plugins.orders.checkout import Attendee, LineAttendees, PlacedOrder, place_order
from builtin_plugins.orders.models import OrderStatus
from builtin_plugins.orders.payment_start import (
    call_provider,
    failure_of,
    record_answer,
    undo_start,
)
from builtin_plugins.orders.schemas import CheckoutIn, CheckoutOut
from sdk import Kernel, UnprocessableContent
from sdk.http import KernelDep, admitted, authenticate, public_or_signed_in
from sdk.idempotency import (
    IdempotencyKeyHeader,
    claim,
    forget,
    remember,
    replay_response,
    request_fingerprint,
)

router = APIRouter(prefix="/events/{event_id}", tags=["checkout"])
routers = [router]


class BuyerRequired(UnprocessableContent):
    code, title = "buyer-required", "Say who is buying"


async def _buyer(request: Request, body: CheckoutIn) -> tuple[str, uuid.UUID | None, str, str]:
    """(hold owner, buyer user id, name, email) of the caller."""
    owner, user_id = await cart_owner(request, body.cart_token)
    if user_id is not None:
        principal = await authenticate(request)  # answered already, kept on the request
        email = body.buyer.email if body.buyer else principal.email
        name = body.buyer.name if body.buyer else (principal.name or principal.email)
        if not email or not name:
            raise BuyerRequired("Your account has no email: send buyer {name, email}.")
        return owner, user_id, name, email
    if body.buyer is None:
        raise BuyerRequired("Send buyer {name, email}: the order and its tickets go there.")
    return owner, None, body.buyer.name, str(body.buyer.email)


@router.post(
    "/checkout",
    summary="Place an order from my holds: it awaits payment until expires_at",
    status_code=201,
    dependencies=[public_or_signed_in(), admitted(per="event_id")],
    responses={
        409: {"description": "Vetoed, a hold expired, or the cart changed meanwhile"},
        422: {"description": "Nothing held (cart-empty), or buyer details missing"},
        502: {"description": "The payment provider could not start the payment: retry"},
        504: {"description": "The payment provider did not answer in time: retry"},
    },
)
async def checkout(
    event_id: uuid.UUID,
    body: CheckoutIn,
    request: Request,
    kernel: KernelDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> CheckoutOut:
    owner, buyer_user_id, name, email = await _buyer(request, body)
    scope = f"checkout:{event_id}:{owner}"
    async with kernel.database.transaction() as session:
        if idempotency_key:
            fingerprint = request_fingerprint("POST", request.url.path, body)
            stored = await claim(session, scope=scope, key=idempotency_key, fingerprint=fingerprint)
            if stored is not None:
                return replay_response(stored)  # type: ignore[return-value]
        placed = await place_order(
            session,
            kernel,
            event_id=event_id,
            owner=owner,
            buyer_user_id=buyer_user_id,
            buyer_name=name,
            buyer_email=str(email),
            attendees=[
                LineAttendees(
                    hold_id=line.hold_id,
                    attendees=[
                        Attendee(name=p.name, email=str(p.email), answers=p.answers)
                        for p in line.attendees
                    ],
                )
                for line in body.attendees or ()
            ],
            provider=body.payment_provider,
            promo_code=body.promo_code,
            billing=body.billing.model_dump() if body.billing else None,
        )
        if placed.call is None:
            result = await _answer(session, placed)
            if idempotency_key:
                await remember(
                    session, scope=scope, key=idempotency_key, result_status=201, body=result
                )
    if placed.call is not None:
        placed, result = await _start_payment(kernel, placed, scope, idempotency_key)
    snapshot = fulfilment.order_snapshot(placed.order, placed.lines)
    await kernel.hooks.call(
        "ticketing_checkout_after_order_placed",
        organization_id=snapshot.organization_id,
        order=snapshot,
    )
    if placed.order.status is OrderStatus.PAID:  # a free order, paid on the spot
        await fulfilment.announce_paid(kernel, placed.order, placed.payment)
    return result


async def _answer(session: AsyncSession, placed: PlacedOrder) -> CheckoutOut:
    payments = [placed.payment] if placed.payment is not None else []
    return CheckoutOut(
        id=placed.order.id,
        order=await orders_service.buyer_view(
            session, placed.order, placed.lines, payments, placed.catalog
        ),
        payment=orders_service.payment_view(placed.payment) if placed.payment else None,
        access_token=placed.access_token,
    )


async def _start_payment(
    kernel: Kernel, placed: PlacedOrder, scope: str, idempotency_key: str | None
) -> tuple[PlacedOrder, CheckoutOut]:
    """Ask the provider of the committed order, then record its answer (and remember
    the checkout's) in a short transaction; on any failure undo the checkout, forget
    the key and raise what the provider raised."""
    assert placed.call is not None
    try:
        answer = await call_provider(kernel, placed.call)
        async with kernel.database.transaction() as session:
            order, payment = await record_answer(session, kernel, placed.call, answer)
            placed = dataclasses.replace(placed, order=order, payment=payment)
            result = await _answer(session, placed)
            if idempotency_key:
                await remember(
                    session, scope=scope, key=idempotency_key, result_status=201, body=result
                )
    except Exception as error:
        async with kernel.database.transaction() as session:
            await undo_start(session, placed.call, failure_of(error))
            await forget(session, scope, idempotency_key)
        raise
    return placed, result
