"""``POST /payments/stripe/webhook``: Stripe telling us what became of a PaymentIntent.

The route is ``public()`` and authenticates by signature: the ``Stripe-Signature`` header
is checked with ``stripe.Webhook.construct_event`` against ``STRIPE_WEBHOOK_SECRET``
(five minutes of tolerance); a bad, missing or old signature answers 400 and changes
nothing.

Each event takes effect exactly once however often Stripe delivers it: its id goes into
``stripe_event`` (``ON CONFLICT DO NOTHING``) in the transaction of its effect, and an
event whose row already exists answers 200 and does nothing. Events may also arrive out
of order, so each effect checks the payment's current status: a ``payment_failed`` or
``canceled`` after ``succeeded`` leaves the payment and its order paid.

* ``payment_intent.succeeded`` -- the payment succeeds and its order is paid
  (:func:`fulfilment.mark_paid`, tickets issued); other plugins hear of it after commit.
  An amount or currency that differs from the payment's is logged and not fulfilled.
* ``payment_intent.payment_failed`` -- the payment fails with Stripe's reason; the order
  stays ``pending_payment`` so the buyer may try again (same intent, new card).
* ``payment_intent.canceled`` -- the payment is cancelled; the order is left to expire.
* ``charge.refunded`` / ``charge.dispute.created`` -- recorded only, until refunds and the
  ledger exist. Any other type is recorded and ignored.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

import stripe
from fastapi import APIRouter, BackgroundTasks, Request
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.events.inventory import SoldOut
from builtin_plugins.orders.fulfilment import OrderNotPayable, announce_paid, mark_paid
from builtin_plugins.orders.lifecycle import lock_order
from builtin_plugins.orders.models import Order, OrderStatus, Payment, PaymentStatus
from builtin_plugins.payments_stripe.models import StripeEvent
from builtin_plugins.payments_stripe.provider import KEY, StripeNotConfigured
from builtin_plugins.payments_stripe.settings import stripe_settings
from kernel.auth import public
from kernel.clock import utcnow
from kernel.dependencies import KernelDep, SessionDep
from kernel.problems import Problem

logger = logging.getLogger(__name__)

SIGNATURE_TOLERANCE_SECONDS = 300
RECORDED_ONLY = {"charge.refunded", "charge.dispute.created"}  # handled with refunds/ledger

router = APIRouter(prefix="/payments/stripe", tags=["payments"])
routers = [router]


class InvalidSignature(Problem):
    status, code, title = 400, "invalid-signature", "Invalid webhook signature"


class WebhookReceived(BaseModel):
    received: bool = True
    duplicate: bool = False
    handled: bool = False


@router.post(
    "/webhook",
    summary="Stripe's webhook (authenticated by the Stripe-Signature header)",
    dependencies=[public()],
    responses={400: {"description": "Bad, missing or expired signature"}},
)
async def stripe_webhook(
    request: Request, kernel: KernelDep, session: SessionDep, background: BackgroundTasks
) -> WebhookReceived:
    secret = stripe_settings().webhook_secret
    if secret is None:
        raise StripeNotConfigured("Stripe webhooks are not set up on this platform.")
    payload = await request.body()
    try:
        stripe.Webhook.construct_event(
            payload,
            request.headers.get("stripe-signature"),
            secret.get_secret_value(),
            tolerance=SIGNATURE_TOLERANCE_SECONDS,
        )
        event = json.loads(payload)
    except stripe.SignatureVerificationError as error:
        raise InvalidSignature("The Stripe-Signature header does not verify.") from error
    except ValueError as error:  # not JSON (after a valid signature: a broken sender)
        raise InvalidSignature("The payload is not a Stripe event.") from error

    if not await _first_delivery(session, event):
        return WebhookReceived(duplicate=True)
    kind = event.get("type")
    subject = (event.get("data") or {}).get("object") or {}
    if kind == "payment_intent.succeeded":
        paid = await _succeeded(session, kernel, subject)
        if paid is not None:  # runs after the response, so after the commit
            background.add_task(announce_paid, kernel, *paid)
        return WebhookReceived(handled=True)
    if kind == "payment_intent.payment_failed":
        error = subject.get("last_payment_error") or {}
        reason = error.get("message") or error.get("code") or "payment failed"
        await _unsuccessful(session, subject, PaymentStatus.FAILED, reason)
        return WebhookReceived(handled=True)
    if kind == "payment_intent.canceled":
        reason = subject.get("cancellation_reason") or "canceled"
        await _unsuccessful(session, subject, PaymentStatus.CANCELLED, reason)
        return WebhookReceived(handled=True)
    if kind in RECORDED_ONLY:
        logger.warning(
            "stripe event recorded but not acted on yet",
            extra={"stripe_event": event.get("id"), "type": kind},
        )
    return WebhookReceived()


async def _first_delivery(session: AsyncSession, event: dict[str, Any]) -> bool:
    """Record the event; ``False`` when it was recorded before (a redelivery)."""
    event_id, kind = event.get("id"), event.get("type")
    if not isinstance(event_id, str) or not event_id or not isinstance(kind, str):
        raise InvalidSignature("The payload is not a Stripe event.")
    created = event.get("created")
    inserted = await session.scalar(
        insert(StripeEvent)
        .values(
            id=event_id,
            type=kind[:100],
            created=(
                datetime.fromtimestamp(created, UTC) if isinstance(created, int) else utcnow()
            ),
        )
        .on_conflict_do_nothing(index_elements=[StripeEvent.id])
        .returning(StripeEvent.id)
    )
    return inserted is not None


async def _payment(session: AsyncSession, intent: dict[str, Any]) -> Payment | None:
    reference = intent.get("id")
    payment = await session.scalar(
        select(Payment).where(Payment.provider == KEY, Payment.reference == reference)
    )
    if payment is None:
        logger.warning("stripe event for an unknown payment intent", extra={"intent": reference})
    return payment


async def _locked(session: AsyncSession, payment: Payment) -> tuple[Order, Payment]:
    """The payment's order then the payment, locked in that order (as the routes do)."""
    order = await lock_order(session, payment.order_id)
    locked = await session.scalar(
        select(Payment)
        .where(Payment.id == payment.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert locked is not None
    return order, locked


async def _succeeded(
    session: AsyncSession, kernel: Any, intent: dict[str, Any]
) -> tuple[Order, Payment] | None:
    """Mark the order paid; the order and payment when it became paid just now."""
    found = await _payment(session, intent)
    if found is None:
        return None
    order, payment = await _locked(session, found)
    received = intent.get("amount_received", intent.get("amount"))
    currency = str(intent.get("currency") or "").upper()
    if received != payment.amount or currency != payment.currency.upper():
        logger.error(
            "stripe payment amount differs from the order's: not fulfilled",
            extra={"payment_id": str(payment.id), "received": received, "currency": currency},
        )
        return None
    newly_paid = order.status is OrderStatus.PENDING_PAYMENT
    try:
        async with session.begin_nested():
            await mark_paid(session, kernel, order, payment=payment, actor="provider")
    except (OrderNotPayable, SoldOut):
        # the money is taken but the order cannot be fulfilled (cancelled, expired and
        # its units sold): keep the payment as succeeded so the refunds work finds it
        payment.status = PaymentStatus.SUCCEEDED
        payment.succeeded_at = utcnow()
        payment.failure_reason = "paid but the order could not be fulfilled: refund it"
        logger.error(
            "stripe payment for an order that cannot be fulfilled: it needs a refund",
            extra={"payment_id": str(payment.id), "order_id": str(payment.order_id)},
        )
        return None
    return (order, payment) if newly_paid else None


async def _unsuccessful(
    session: AsyncSession, intent: dict[str, Any], status: PaymentStatus, reason: str
) -> None:
    """The payment failed or was cancelled, unless it already succeeded (out of order)."""
    found = await _payment(session, intent)
    if found is None:
        return
    _, payment = await _locked(session, found)
    if payment.status is PaymentStatus.SUCCEEDED:
        logger.info(
            "stripe event after the payment succeeded ignored",
            extra={"payment_id": str(payment.id), "status": status.value},
        )
        return
    payment.status = status
    payment.failure_reason = str(reason)[:500]
