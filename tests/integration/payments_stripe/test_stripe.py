"""Stripe PaymentIntents end to end against a local stand-in of the Stripe API: checkout
creates an intent (amount, currency, metadata, idempotency key), and signed webhooks
settle it exactly once, in any order; unsigned or stale webhooks change nothing."""

from __future__ import annotations

import json
import time
import uuid

import httpx

from builtin_plugins.orders.models import OrderStatus, PaymentStatus
from builtin_plugins.payments_stripe.models import StripeEvent
from kernel.db import Database
from tests.integration.orders.support import Buyer, checkout, open_shop, take
from tests.integration.payments_stripe.conftest import PUBLISHABLE_KEY, WEBHOOK_SECRET
from tests.integration.payments_stripe.support import (
    deliver,
    failed,
    send,
    settled,
    state,
    stripe_order,
)
from tests.support.stripe_server import StripeStandIn, signed_event


async def test_checkout_creates_a_payment_intent_at_stripe(
    http: httpx.AsyncClient, database: Database, stripe_api: StripeStandIn
) -> None:
    placed = await stripe_order(http, database, stripe_api, quantity=2)
    assert placed.client_data == {
        "client_secret": placed.intent["client_secret"],
        "publishable_key": PUBLISHABLE_KEY,
        "account": "platform",
    }
    (request,) = [
        r
        for r in stripe_api.intent_requests()
        if r.form["metadata"]["payment_id"] == str(placed.payment_id)
    ]
    order, payment, tickets = await state(database, placed)
    assert request.api_key == "sk_test_platform" and request.stripe_account is None
    assert request.form["amount"] == str(order.total_amount) == "5000"
    assert request.form["currency"] == "eur"
    assert request.form["automatic_payment_methods"] == {"enabled": "true"}
    metadata = request.form["metadata"]
    assert metadata["order_id"] == str(order.id)
    assert metadata["organization_id"] == str(order.organization_id)
    assert request.idempotency_key == f"order:{order.id}:payment:{payment.id}"
    assert payment.reference == placed.intent["id"] and payment.reference.startswith("pi_")
    assert payment.status is PaymentStatus.REQUIRES_ACTION
    assert order.status is OrderStatus.PENDING_PAYMENT and order.payment_provider == "stripe"
    assert tickets == 0


async def test_a_succeeded_event_pays_the_order_once(
    http: httpx.AsyncClient, database: Database, stripe_api: StripeStandIn
) -> None:
    placed = await stripe_order(http, database, stripe_api, quantity=2)
    payload, headers = signed_event(
        "payment_intent.succeeded", settled(placed.intent), WEBHOOK_SECRET
    )
    first = await deliver(http, payload, headers)
    assert first.status_code == 200, first.text
    assert first.json() == {"received": True, "duplicate": False, "handled": True}
    order, payment, tickets = await state(database, placed)
    assert order.status is OrderStatus.PAID and order.paid_at is not None
    assert payment.status is PaymentStatus.SUCCEEDED and payment.succeeded_at is not None
    assert tickets == 2

    again = await deliver(http, payload, headers)  # Stripe delivers it a second time
    assert again.status_code == 200, again.text
    assert again.json()["duplicate"] is True
    assert (await state(database, placed))[2] == 2


async def test_a_bad_signature_is_refused_and_changes_nothing(
    http: httpx.AsyncClient, database: Database, stripe_api: StripeStandIn
) -> None:
    placed = await stripe_order(http, database, stripe_api)
    subject = settled(placed.intent)
    forged, _ = signed_event("payment_intent.succeeded", subject, "whsec_someone_else")
    payload, headers = signed_event("payment_intent.succeeded", subject, WEBHOOK_SECRET)
    for body, sent in [
        (forged, signed_event("x", {}, "whsec_someone_else")[1]),
        (payload, {**headers, "Stripe-Signature": headers["Stripe-Signature"][:-2] + "00"}),
        (payload, {"Content-Type": "application/json"}),  # no signature at all
        (payload.replace(b"succeeded", b"succeedeD"), headers),  # tampered with
    ]:
        answer = await deliver(http, body, sent)
        assert answer.status_code == 400, answer.text
        assert answer.json()["type"].endswith("invalid-signature")
    order, payment, tickets = await state(database, placed)
    assert order.status is OrderStatus.PENDING_PAYMENT and tickets == 0
    assert payment.status is PaymentStatus.REQUIRES_ACTION
    async with database.transaction() as session:
        assert await session.get(StripeEvent, json.loads(payload)["id"]) is None


async def test_a_stale_signature_is_refused(
    http: httpx.AsyncClient, database: Database, stripe_api: StripeStandIn
) -> None:
    placed = await stripe_order(http, database, stripe_api)
    stale = int(time.time()) - 301
    answer = await send(http, "payment_intent.succeeded", settled(placed.intent), timestamp=stale)
    assert answer.status_code == 400, answer.text
    order, payment, tickets = await state(database, placed)
    assert order.status is OrderStatus.PENDING_PAYMENT and tickets == 0
    assert payment.status is PaymentStatus.REQUIRES_ACTION


async def test_a_failure_after_success_does_not_undo_the_payment(
    http: httpx.AsyncClient, database: Database, stripe_api: StripeStandIn
) -> None:
    placed = await stripe_order(http, database, stripe_api)
    assert (await send(http, "payment_intent.succeeded", settled(placed.intent))).status_code == 200
    late = await send(http, "payment_intent.payment_failed", failed(placed.intent))
    assert late.status_code == 200, late.text
    cancelled = await send(http, "payment_intent.canceled", placed.intent)
    assert cancelled.status_code == 200, cancelled.text
    order, payment, tickets = await state(database, placed)
    assert order.status is OrderStatus.PAID and tickets == 2
    assert payment.status is PaymentStatus.SUCCEEDED and payment.failure_reason is None


async def test_a_failed_payment_leaves_the_order_pending_for_a_retry(
    http: httpx.AsyncClient, database: Database, stripe_api: StripeStandIn
) -> None:
    placed = await stripe_order(http, database, stripe_api)
    answer = await send(http, "payment_intent.payment_failed", failed(placed.intent))
    assert answer.status_code == 200, answer.text
    order, payment, tickets = await state(database, placed)
    assert payment.status is PaymentStatus.FAILED
    assert payment.failure_reason == "Your card was declined."
    assert order.status is OrderStatus.PENDING_PAYMENT and tickets == 0

    # the buyer tries another card on the same intent, and it goes through
    answer = await send(http, "payment_intent.succeeded", settled(placed.intent))
    assert answer.status_code == 200, answer.text
    order, payment, tickets = await state(database, placed)
    assert order.status is OrderStatus.PAID and payment.status is PaymentStatus.SUCCEEDED
    assert payment.failure_reason is None and tickets == 2


async def test_a_wrong_amount_is_not_fulfilled(
    http: httpx.AsyncClient, database: Database, stripe_api: StripeStandIn
) -> None:
    placed = await stripe_order(http, database, stripe_api)
    answer = await send(http, "payment_intent.succeeded", settled(placed.intent, amount_received=1))
    assert answer.status_code == 200, answer.text
    order, payment, tickets = await state(database, placed)
    assert order.status is OrderStatus.PENDING_PAYMENT and tickets == 0
    assert payment.status is PaymentStatus.REQUIRES_ACTION


async def test_unknown_events_are_acknowledged(http: httpx.AsyncClient) -> None:
    for kind in ("customer.created", "payout.paid"):
        answer = await send(http, kind, {"id": "cus_123", "object": "customer"})
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"received": True, "duplicate": False, "handled": False}


async def test_a_retried_checkout_creates_no_second_intent(
    http: httpx.AsyncClient, database: Database, stripe_api: StripeStandIn
) -> None:
    shop = await open_shop(http, database)
    buyer = await Buyer.signed_in(http)
    await take(http, shop, buyer, shop.standard, 1)
    key = f"checkout-{uuid.uuid4()}"
    before = len(stripe_api.intent_requests())
    first = await checkout(http, shop, buyer, key=key, payment_provider="stripe")
    again = await checkout(http, shop, buyer, key=key, payment_provider="stripe")
    assert first.status_code == again.status_code == 201, (first.text, again.text)
    assert first.json()["payment"] == again.json()["payment"]
    assert len(stripe_api.intent_requests()) == before + 1
