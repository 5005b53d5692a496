"""Checkout asks Stripe only after the order is committed: a slow Stripe holds no
checkout transaction, and a Stripe that cannot start the payment leaves a cancelled
order, a failed payment and the buyer's holds back in their cart, ready for a retry."""

from __future__ import annotations

import asyncio
import threading
import uuid

import httpx
from sqlalchemy import select, text

from builtin_plugins.orders.models import (
    Order,
    OrderStatus,
    OrderTransition,
    Payment,
    PaymentStatus,
)
from kernel.db import Database
from tests.integration.orders.support import Buyer, checkout, open_shop, order_holds, take
from tests.integration.promotions.support import make_code, read_code, redemptions, wait_for
from tests.integration.ticketing.support import problem_code
from tests.support.stripe_server import Recorded, StripeStandIn

WAIT_SECONDS = 30
DECLINED = (400, "invalid_request_error", "This account cannot take payments.", "account_invalid")


def new_intent_request(stripe_api: StripeStandIn, before: int) -> Recorded:
    (request,) = stripe_api.intent_requests()[before:]
    return request


async def rows(database: Database, request: Recorded) -> tuple[Order, Payment, list[str]]:
    """The order and payment the intent request was made for, and why it was cancelled."""
    metadata = request.form["metadata"]
    async with database.transaction() as session:
        order = await session.get(Order, uuid.UUID(metadata["order_id"]))
        payment = await session.get(Payment, uuid.UUID(metadata["payment_id"]))
        reasons = list(
            await session.scalars(
                select(OrderTransition.reason).where(
                    OrderTransition.order_id == uuid.UUID(metadata["order_id"]),
                    OrderTransition.to_status == OrderStatus.CANCELLED,
                )
            )
        )
    assert order is not None and payment is not None
    return order, payment, reasons


async def hold_state(database: Database, hold_id: str) -> dict:
    async with database.transaction() as session:
        row = await session.execute(
            text(
                "SELECT owner, CAST(status AS text) AS status, expires_at > now() AS live "
                "FROM inventory_hold WHERE id = :id"
            ),
            {"id": uuid.UUID(hold_id)},
        )
        return dict(row.one()._mapping)


async def test_while_stripe_answers_the_order_and_its_pending_payment_are_committed(
    http: httpx.AsyncClient, database: Database, stripe_api: StripeStandIn
) -> None:
    shop = await open_shop(http, database)
    buyer = await Buyer.signed_in(http)
    await take(http, shop, buyer, shop.standard, 2)
    before = len(stripe_api.intent_requests())
    held = threading.Event()
    stripe_api.intent_waiting.clear()
    stripe_api.intents_held = held
    try:
        answer = asyncio.create_task(checkout(http, shop, buyer, payment_provider="stripe"))
        arrived = await asyncio.to_thread(stripe_api.intent_waiting.wait, WAIT_SECONDS)
        assert arrived, "checkout never asked Stripe"
        request = new_intent_request(stripe_api, before)
        # Stripe has not answered: what another connection sees is already committed.
        order, payment, _ = await rows(database, request)
        assert order.status is OrderStatus.PENDING_PAYMENT and order.payment_provider == "stripe"
        assert payment.status is PaymentStatus.PENDING and payment.reference is None
        assert request.idempotency_key == f"order:{order.id}:payment:{payment.id}"
        holds = await order_holds(database, str(order.id))
        assert [h["owner"] for h in holds] == [f"order:{order.id}"]
    finally:
        held.set()
        stripe_api.intents_held = None
    placed = await answer
    assert placed.status_code == 201, placed.text
    body = placed.json()
    assert body["order"]["id"] == str(order.id) and body["payment"]["id"] == str(payment.id)
    assert body["payment"]["status"] == "requires_action"
    intent = stripe_api.intents[body["payment"]["client_data"]["client_secret"].split("_secret")[0]]
    _, recorded, _ = await rows(database, request)
    assert recorded.reference == intent["id"] and recorded.status is PaymentStatus.REQUIRES_ACTION


async def test_a_payment_stripe_cannot_start_gives_the_holds_back_for_a_retry(
    http: httpx.AsyncClient, database: Database, stripe_api: StripeStandIn
) -> None:
    shop = await open_shop(http, database)
    code = await make_code(http, shop, max_uses=2)
    buyer = await Buyer.signed_in(http)
    hold = await take(http, shop, buyer, shop.standard, 2)
    key = f"checkout-{uuid.uuid4()}"
    before = len(stripe_api.intent_requests())
    stripe_api.intent_error = DECLINED
    try:
        refused = await checkout(
            http, shop, buyer, key=key, payment_provider="stripe", promo_code=code["code"]
        )
    finally:
        stripe_api.intent_error = None
    # The buyer sees what they saw when everything rolled back: Stripe's problem.
    assert refused.status_code == 502, refused.text
    assert problem_code(refused) == "payment-provider-error"

    order, payment, reasons = await rows(database, new_intent_request(stripe_api, before))
    assert order.status is OrderStatus.CANCELLED
    assert reasons == ["the payment could not be started"]
    assert payment.status is PaymentStatus.FAILED and payment.reference is None
    assert payment.failure_reason and "payment-provider-error" in payment.failure_reason
    held = await hold_state(database, hold["id"])
    assert held == {"owner": order.hold_owner, "status": "active", "live": True}

    async def given_back() -> bool:
        return (await read_code(http, shop, code))["used"] == 0

    await wait_for(given_back, "the cancelled order's promo code uses to come back")
    assert [r["status"] for r in await redemptions(database, code["id"])] == ["released"]

    # The same key runs again (it was forgotten) and the same holds make the new order.
    retried = await checkout(
        http, shop, buyer, key=key, payment_provider="stripe", promo_code=code["code"]
    )
    assert retried.status_code == 201, retried.text
    assert "Idempotent-Replayed" not in retried.headers
    body = retried.json()
    assert body["order"]["id"] != str(order.id)
    assert body["payment"]["status"] == "requires_action"
    assert [h["id"] for h in await order_holds(database, body["order"]["id"])] == [
        uuid.UUID(hold["id"])
    ]
    again = await checkout(
        http, shop, buyer, key=key, payment_provider="stripe", promo_code=code["code"]
    )
    assert again.status_code == 201 and again.headers.get("Idempotent-Replayed") == "true"
    assert again.json()["payment"] == body["payment"]
    assert again.json()["payment"]["client_data"]["client_secret"]
