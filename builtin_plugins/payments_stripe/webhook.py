"""Stripe's webhooks: what became of our PaymentIntents, refunds made in Stripe, disputes.

Two endpoints, both ``public()`` and authenticated by signature (``Stripe-Signature``,
checked by ``stripe.WebhookSignature.verify_header`` with five minutes of tolerance; a bad,
missing or old signature answers 400 and records nothing):

* ``POST /payments/stripe/webhook`` -- the platform's account, signed with
  ``STRIPE_WEBHOOK_SECRET`` (or ``STRIPE_CONNECT_WEBHOOK_SECRET``). An event of a
  connected account carries ``account`` (``acct_...``).
* ``POST /payments/stripe/webhook/{organization_id}`` -- an organization's own account,
  signed with that organization's webhook secret.

The sender decides what an event may touch: only payments made on the account that
sent it (``client_data["account"]``, recorded at checkout), and for an organization's
own account only that organization's payments. Anything else is acknowledged, logged
and left alone, so one tenant's Stripe account can never settle another's orders.

Each event takes effect exactly once however often Stripe delivers it: its id goes into
``stripe_event`` (``ON CONFLICT DO NOTHING``) in the transaction of its effect, and an
event whose row already exists answers 200 and does nothing. Events may also arrive out
of order, so each effect checks the payment's current status: a ``payment_failed`` or
``canceled`` after ``succeeded`` leaves the payment and its order paid, and a
``succeeded`` for a payment already settled changes nothing.

* ``payment_intent.succeeded`` -- the payment succeeds and its order is paid
  (:func:`fulfilment.mark_paid`, tickets issued); other plugins hear of it after commit.
  An amount or currency that differs from the payment's is logged and not fulfilled.
* ``payment_intent.payment_failed`` -- the payment fails with Stripe's reason; the order
  stays ``pending_payment`` so the buyer may try again (same intent, new card).
* ``payment_intent.canceled`` -- the payment is cancelled; the order is left to expire.
* ``charge.refunded`` -- money went back (through our refunds API or Stripe's
  dashboard): :func:`refunds.reconcile_provider_refunds` settles our pending refunds and
  records the rest, from the charge's running ``amount_refunded`` (so a repeated or
  older report changes nothing).
* ``charge.dispute.created`` -- the buyer's bank took the money back: the ledger posts
  the dispute once per dispute id (:func:`ledger.record_dispute`).

Any other type is recorded and ignored.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import stripe
from fastapi import APIRouter, BackgroundTasks, Request
from pydantic import BaseModel
from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.events.inventory import SoldOut
from builtin_plugins.orders.fulfilment import OrderNotPayable, announce_paid, mark_paid
from builtin_plugins.orders.ledger import record_dispute
from builtin_plugins.orders.lifecycle import lock_order
from builtin_plugins.orders.models import Order, OrderStatus, Payment, PaymentStatus, Refund
from builtin_plugins.orders.refunds import after_refunds, reconcile_provider_refunds
from builtin_plugins.payments_stripe import accounts
from builtin_plugins.payments_stripe.account_router import ORGANIZATION_WEBHOOK_ROUTE
from builtin_plugins.payments_stripe.models import StripeEvent
from builtin_plugins.payments_stripe.provider import KEY, StripeNotConfigured
from builtin_plugins.payments_stripe.schemas import CONNECTED, OWN, PLATFORM
from builtin_plugins.payments_stripe.settings import stripe_settings
from sdk import NotFound, Problem
from sdk.clock import utcnow
from sdk.crypto import DecryptionFailed
from sdk.http import MIB, KernelDep, SessionDep, max_body_size, public

logger = logging.getLogger(__name__)

SIGNATURE_TOLERANCE_SECONDS = 300
# Stripe's events are kilobytes; room for large expanded objects, and no more.
WEBHOOK_MAX_BYTES = 4 * MIB

router = APIRouter(prefix="/payments/stripe", tags=["payments"])
routers = [router]


class InvalidSignature(Problem):
    status, code, title = 400, "invalid-signature", "Invalid webhook signature"


class WebhookReceived(BaseModel):
    received: bool = True
    duplicate: bool = False
    handled: bool = False


@dataclass(frozen=True, slots=True)
class Sender:
    """The Stripe account an event came from, as its signature proves."""

    account: str  # platform, own, connected
    organization_id: uuid.UUID | None = None  # own
    account_id: str | None = None  # connected: acct_...

    def scope(self) -> list[ColumnElement[bool]]:
        """What restricts the payments this sender's events may touch."""
        made_on = Payment.client_data["account"].astext
        if self.account == OWN:
            return [Payment.organization_id == self.organization_id, made_on == OWN]
        if self.account == CONNECTED:
            return [
                made_on == CONNECTED,
                Payment.client_data["stripe_account"].astext == self.account_id,
            ]
        # a payment from before per-organization accounts has no "account": the platform's
        return [or_(made_on.is_(None), made_on == PLATFORM)]


def _verified(payload: bytes, signature: str | None, secrets: list[str]) -> dict[str, Any]:
    """The event, if one of ``secrets`` signed it (``stripe.WebhookSignature``); else 400."""
    for secret in secrets:
        try:
            stripe.WebhookSignature.verify_header(
                payload, signature, secret, tolerance=SIGNATURE_TOLERANCE_SECONDS
            )
        except stripe.SignatureVerificationError:
            continue
        except ValueError as error:  # not UTF-8
            raise InvalidSignature("The payload is not a Stripe event.") from error
        try:
            event = json.loads(payload)
        except ValueError as error:  # signed but not JSON: a broken sender
            raise InvalidSignature("The payload is not a Stripe event.") from error
        if not isinstance(event, dict):
            raise InvalidSignature("The payload is not a Stripe event.")
        return event
    raise InvalidSignature("The Stripe-Signature header does not verify.")


@router.post(
    "/webhook",
    summary="Stripe's webhook for the platform's and connected accounts (Stripe-Signature)",
    dependencies=[public(), max_body_size(WEBHOOK_MAX_BYTES)],
    responses={400: {"description": "Bad, missing or expired signature"}},
)
async def stripe_webhook(
    request: Request, kernel: KernelDep, session: SessionDep, background: BackgroundTasks
) -> WebhookReceived:
    secrets = stripe_settings().webhook_secrets()
    if not secrets:
        raise StripeNotConfigured("Stripe webhooks are not set up on this platform.")
    payload = await request.body()
    event = _verified(payload, request.headers.get("stripe-signature"), secrets)
    connected = event.get("account")
    sender = (
        Sender(CONNECTED, account_id=connected)
        if isinstance(connected, str) and connected
        else Sender(PLATFORM)
    )
    return await _handle(session, kernel, background, event, sender)


@router.post(
    "/webhook/{organization_id}",
    name=ORGANIZATION_WEBHOOK_ROUTE,
    summary="Stripe's webhook for an organization's own account (Stripe-Signature)",
    dependencies=[public(), max_body_size(WEBHOOK_MAX_BYTES)],
    responses={
        400: {"description": "Bad, missing or expired signature"},
        404: {"description": "The organization takes no payments on its own account"},
    },
)
async def organization_webhook(
    organization_id: uuid.UUID,
    request: Request,
    kernel: KernelDep,
    session: SessionDep,
    background: BackgroundTasks,
) -> WebhookReceived:
    try:
        account = await accounts.load(session, kernel.encryptor, organization_id)
    except DecryptionFailed as error:
        logger.error(
            "stripe webhook secret cannot be decrypted",
            extra={"organization_id": str(organization_id)},
        )
        raise StripeNotConfigured(
            "Stripe webhooks of this organization are unavailable."
        ) from error
    if account.kind != OWN or not account.webhook_secret:
        raise NotFound("No Stripe webhook for this organization.")
    payload = await request.body()
    event = _verified(payload, request.headers.get("stripe-signature"), [account.webhook_secret])
    return await _handle(session, kernel, background, event, Sender(OWN, organization_id))


async def _handle(
    session: AsyncSession,
    kernel: Any,
    background: BackgroundTasks,
    event: dict[str, Any],
    sender: Sender,
) -> WebhookReceived:
    if not await _first_delivery(session, event):
        return WebhookReceived(duplicate=True)
    kind = event.get("type")
    subject = (event.get("data") or {}).get("object") or {}
    if kind == "payment_intent.succeeded":
        paid = await _succeeded(session, kernel, sender, subject)
        if paid is not None:  # runs after the response, so after the commit
            background.add_task(announce_paid, kernel, *paid)
        return WebhookReceived(handled=True)
    if kind == "payment_intent.payment_failed":
        error = subject.get("last_payment_error") or {}
        reason = error.get("message") or error.get("code") or "payment failed"
        await _unsuccessful(session, sender, subject, PaymentStatus.FAILED, reason)
        return WebhookReceived(handled=True)
    if kind == "payment_intent.canceled":
        reason = subject.get("cancellation_reason") or "canceled"
        await _unsuccessful(session, sender, subject, PaymentStatus.CANCELLED, reason)
        return WebhookReceived(handled=True)
    if kind == "charge.refunded":
        paid, refunded = await _refunded(session, kernel, sender, subject)
        if paid is not None:
            background.add_task(announce_paid, kernel, *paid)
        if refunded:
            background.add_task(after_refunds, kernel, refunded)
        return WebhookReceived(handled=True)
    if kind == "charge.dispute.created":
        await _disputed(session, sender, subject)
        return WebhookReceived(handled=True)
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
            id=event_id[:255],
            type=kind[:100],
            created=(
                datetime.fromtimestamp(created, UTC) if isinstance(created, int) else utcnow()
            ),
        )
        .on_conflict_do_nothing(index_elements=[StripeEvent.id])
        .returning(StripeEvent.id)
    )
    return inserted is not None


async def _payment(session: AsyncSession, sender: Sender, intent_id: Any) -> Payment | None:
    """Our payment of the PaymentIntent ``intent_id``, if the sender may touch it."""
    if not isinstance(intent_id, str) or not intent_id:
        return None
    payment = await session.scalar(
        select(Payment).where(
            Payment.provider == KEY, Payment.reference == intent_id, *sender.scope()
        )
    )
    if payment is None:
        logger.warning(
            "stripe event for a payment intent unknown to its sender",
            extra={"intent": intent_id, "sender": sender.account},
        )
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
    session: AsyncSession, kernel: Any, sender: Sender, intent: dict[str, Any]
) -> tuple[Order, Payment] | None:
    """Mark the order paid; the order and payment when it became paid just now."""
    found = await _payment(session, sender, intent.get("id"))
    if found is None:
        return None
    order, payment = await _locked(session, found)
    if payment.status is PaymentStatus.SUCCEEDED:  # settled before (maybe refunded since)
        return None
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
    session: AsyncSession,
    sender: Sender,
    intent: dict[str, Any],
    status: PaymentStatus,
    reason: str,
) -> None:
    """The payment failed or was cancelled, unless it already succeeded (out of order)."""
    found = await _payment(session, sender, intent.get("id"))
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


async def _refunded(
    session: AsyncSession, kernel: Any, sender: Sender, charge: dict[str, Any]
) -> tuple[tuple[Order, Payment] | None, list[Refund]]:
    """Money went back on the charge, through our API or Stripe's dashboard: the orders
    plugin settles our pending refunds and records the rest. ``amount_refunded`` is the
    charge's running total, so a redelivered or older report changes nothing. A charge
    refunded before its ``payment_intent.succeeded`` arrived settles the payment first
    (the charge proves it); the late event then finds it settled.

    The order and payment if that made the order paid, and the refunds settled.
    """
    found = await _payment(session, sender, charge.get("payment_intent"))
    if found is None:
        return None, []
    total, reference = charge.get("amount_refunded"), charge.get("id")
    currency = str(charge.get("currency") or "").upper()
    if (
        not isinstance(total, int)
        or not 0 <= total <= found.amount
        or currency != found.currency.upper()
        or not isinstance(reference, str)
    ):
        logger.error(
            "stripe refund report that does not fit its payment ignored",
            extra={"payment_id": str(found.id), "amount_refunded": total, "currency": currency},
        )
        return None, []
    paid = None
    if found.status is not PaymentStatus.SUCCEEDED and charge.get("paid"):
        captured = {
            "id": found.reference,
            "amount_received": charge.get("amount_captured", charge.get("amount")),
            "currency": charge.get("currency"),
        }
        paid = await _succeeded(session, kernel, sender, captured)
    _, payment = await _locked(session, found)
    if payment.status is not PaymentStatus.SUCCEEDED:
        logger.error(
            "stripe refund of a payment that never succeeded here ignored",
            extra={"payment_id": str(payment.id), "status": payment.status.value},
        )
        return paid, []
    refunded = await reconcile_provider_refunds(
        session, kernel, payment=payment, refunded_total=total, reference=reference
    )
    return paid, refunded


async def _disputed(session: AsyncSession, sender: Sender, dispute: dict[str, Any]) -> None:
    """The buyer's bank took the money back: the ledger posts the dispute, once."""
    found = await _payment(session, sender, dispute.get("payment_intent"))
    if found is None:
        return
    amount, reference = dispute.get("amount"), dispute.get("id")
    currency = str(dispute.get("currency") or "").upper()
    if (
        not isinstance(amount, int)
        or not 0 < amount <= found.amount
        or currency != found.currency.upper()
        or not isinstance(reference, str)
    ):
        logger.error(
            "stripe dispute that does not fit its payment ignored",
            extra={"payment_id": str(found.id), "amount": amount, "currency": currency},
        )
        return
    order, payment = await _locked(session, found)
    await record_dispute(
        session,
        order=order,
        payment=payment,
        amount=amount,
        reference=reference,
        reason=str(dispute.get("reason") or "unknown"),
    )
