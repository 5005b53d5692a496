"""``POST /events/{event_id}/checkout``: a buyer's holds become an order awaiting payment.

Public. A signed-in buyer's cart is their user (name and email default to the account);
an anonymous buyer names the ``cart_token`` their holds were placed with and says who
they are. The answer carries the order's access token, shown only here.

``Idempotency-Key`` makes a retry safe: the same key and body returns the first order
(never a second one); the key is scoped to the cart and the event.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request

from builtin_plugins.events.inventory import cart_owner
from builtin_plugins.orders import fulfilment, orders_service
from builtin_plugins.orders.checkout import Attendee, LineAttendees, place_order
from builtin_plugins.orders.models import OrderStatus
from builtin_plugins.orders.schemas import CheckoutIn, CheckoutOut
from sdk import UnprocessableContent
from sdk.http import KernelDep, admitted, authenticate, public_or_signed_in
from sdk.idempotency import (
    IdempotencyKeyHeader,
    claim,
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
        payments = [placed.payment] if placed.payment is not None else []
        result = CheckoutOut(
            id=placed.order.id,
            order=await orders_service.buyer_view(
                session, placed.order, placed.lines, payments, placed.catalog
            ),
            payment=orders_service.payment_view(placed.payment) if placed.payment else None,
            access_token=placed.access_token,
        )
        if idempotency_key:
            await remember(
                session, scope=scope, key=idempotency_key, result_status=201, body=result
            )
    snapshot = fulfilment.order_snapshot(placed.order, placed.lines)
    await kernel.hooks.call(
        "ticketing_checkout_after_order_placed",
        organization_id=snapshot.organization_id,
        order=snapshot,
    )
    if placed.order.status is OrderStatus.PAID:  # a free order, paid on the spot
        await fulfilment.announce_paid(kernel, placed.order, placed.payment)
    return result
