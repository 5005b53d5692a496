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

This plugin keeps no orders: it finds the payment an event is about with the hook
``ticketing_provider_payment`` and reports the outcome through the payment hooks of
:mod:`kernel.hookspecs`, in the transaction that records the event, so the plugin that
keeps orders (the orders plugin) applies it exactly once:

* ``payment_intent.succeeded`` -- ``ticketing_payment_settled``: the payment succeeds and
  its order is paid (tickets issued); other plugins hear of it after commit. An amount
  or currency that differs from the payment's is logged and not fulfilled.
* ``payment_intent.payment_failed`` -- ``ticketing_payment_failed``: the payment fails with
  Stripe's reason; the order stays ``pending_payment`` so the buyer may try again (same
  intent, new card).
* ``payment_intent.canceled`` -- ``ticketing_payment_failed`` (``cancelled``); the order
  is left to expire.
* ``charge.refunded`` -- ``ticketing_refund_settled``: money went back (through our
  refunds API or Stripe's dashboard); our pending refunds are settled and the rest
  recorded, from the charge's running ``amount_refunded`` (so a repeated or older report
  changes nothing).
* ``charge.dispute.created`` -- ``ticketing_dispute_opened``: the buyer's bank took the
  money back; the ledger posts the dispute once per dispute id.

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
from fastapi import APIRouter, Request
from pydantic import BaseModel
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.payments_stripe import accounts
from builtin_plugins.payments_stripe.account_router import ORGANIZATION_WEBHOOK_ROUTE
from builtin_plugins.payments_stripe.models import StripeEvent
from builtin_plugins.payments_stripe.provider import KEY, StripeNotConfigured
from builtin_plugins.payments_stripe.schemas import CONNECTED, OWN, PLATFORM
from builtin_plugins.payments_stripe.settings import stripe_settings
from sdk import (
    DisputeOpened,
    Kernel,
    Money,
    NotFound,
    PaymentFailed,
    PaymentSettled,
    Problem,
    ProviderPayment,
    RefundsSettled,
)
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

    def may_touch(self, payment: ProviderPayment) -> bool:
        """Whether this sender's events may touch ``payment``: one made on its account."""
        made_on = payment.client_data.get("account")
        if self.account == OWN:
            return payment.organization_id == self.organization_id and made_on == OWN
        if self.account == CONNECTED:
            return made_on == CONNECTED and (
                payment.client_data.get("stripe_account") == self.account_id
            )
        # a payment from before per-organization accounts has no "account": the platform's
        return made_on is None or made_on == PLATFORM


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
    request: Request, kernel: KernelDep, session: SessionDep
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
    return await _handle(session, kernel, event, sender)


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
    return await _handle(session, kernel, event, Sender(OWN, organization_id))


async def _handle(
    session: AsyncSession, kernel: Kernel, event: dict[str, Any], sender: Sender
) -> WebhookReceived:
    if not await _first_delivery(session, event):
        return WebhookReceived(duplicate=True)
    kind = event.get("type")
    subject = (event.get("data") or {}).get("object") or {}
    if kind == "payment_intent.succeeded":
        await _succeeded(session, kernel, sender, subject)
        return WebhookReceived(handled=True)
    if kind == "payment_intent.payment_failed":
        error = subject.get("last_payment_error") or {}
        reason = error.get("message") or error.get("code") or "payment failed"
        await _unsuccessful(session, kernel, sender, subject, "failed", reason)
        return WebhookReceived(handled=True)
    if kind == "payment_intent.canceled":
        reason = subject.get("cancellation_reason") or "canceled"
        await _unsuccessful(session, kernel, sender, subject, "cancelled", reason)
        return WebhookReceived(handled=True)
    if kind == "charge.refunded":
        await _refunded(session, kernel, sender, subject)
        return WebhookReceived(handled=True)
    if kind == "charge.dispute.created":
        await _disputed(session, kernel, sender, subject)
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


async def _payment(
    session: AsyncSession, kernel: Kernel, sender: Sender, intent_id: Any
) -> ProviderPayment | None:
    """Our payment of the PaymentIntent ``intent_id``, if the sender may touch it."""
    if not isinstance(intent_id, str) or not intent_id:
        return None
    payment = await kernel.hooks.call(
        "ticketing_provider_payment",
        organization_id=sender.organization_id,
        provider=KEY,
        reference=intent_id,
        session=session,
    )
    if payment is None or not sender.may_touch(payment):
        logger.warning(
            "stripe event for a payment intent unknown to its sender",
            extra={"intent": intent_id, "sender": sender.account},
        )
        return None
    return payment


def _money(amount: Any, currency: Any) -> Money | None:
    """Stripe's amount in minor units and lower-case currency, if they are money."""
    try:
        return Money(amount, str(currency or "").upper())
    except (TypeError, ValueError):
        return None


async def _succeeded(
    session: AsyncSession, kernel: Kernel, sender: Sender, intent: dict[str, Any]
) -> None:
    """The payment succeeded: its order is paid, once (``ticketing_payment_settled``)."""
    found = await _payment(session, kernel, sender, intent.get("id"))
    if found is None:
        return
    received = _money(intent.get("amount_received", intent.get("amount")), intent.get("currency"))
    if received is None:
        logger.error(
            "stripe payment amount differs from the order's: not fulfilled",
            extra={"payment_id": str(found.payment_id), "received": intent.get("amount")},
        )
        return
    await kernel.hooks.call(
        "ticketing_payment_settled",
        organization_id=found.organization_id,
        report=PaymentSettled(provider=KEY, reference=found.reference, amount=received),
        session=session,
    )


async def _unsuccessful(
    session: AsyncSession,
    kernel: Kernel,
    sender: Sender,
    intent: dict[str, Any],
    status: str,
    reason: str,
) -> None:
    """The payment failed or was cancelled (unless it already succeeded: out of order)."""
    found = await _payment(session, kernel, sender, intent.get("id"))
    if found is None:
        return
    await kernel.hooks.call(
        "ticketing_payment_failed",
        organization_id=found.organization_id,
        report=PaymentFailed(
            provider=KEY, reference=found.reference, status=status, reason=str(reason)
        ),
        session=session,
    )


async def _refunded(
    session: AsyncSession, kernel: Kernel, sender: Sender, charge: dict[str, Any]
) -> None:
    """Money went back on the charge, through our API or Stripe's dashboard
    (``ticketing_refund_settled``). ``amount_refunded`` is the charge's running total, so
    a redelivered or older report changes nothing. A charge refunded before its
    ``payment_intent.succeeded`` arrived settles the payment first (the charge proves
    it); the late event then finds it settled."""
    found = await _payment(session, kernel, sender, charge.get("payment_intent"))
    if found is None:
        return
    total = charge.get("amount_refunded")
    refunded = _money(total, charge.get("currency"))
    reference = charge.get("id")
    if (
        refunded is None
        or not 0 <= refunded.amount <= found.amount.amount
        or refunded.currency != found.amount.currency
        or not isinstance(reference, str)
    ):
        logger.error(
            "stripe refund report that does not fit its payment ignored",
            extra={
                "payment_id": str(found.payment_id),
                "amount_refunded": total,
                "currency": charge.get("currency"),
            },
        )
        return
    if found.status != "succeeded" and charge.get("paid"):
        captured = {
            "id": found.reference,
            "amount_received": charge.get("amount_captured", charge.get("amount")),
            "currency": charge.get("currency"),
        }
        await _succeeded(session, kernel, sender, captured)
    await kernel.hooks.call(
        "ticketing_refund_settled",
        organization_id=found.organization_id,
        report=RefundsSettled(
            provider=KEY,
            payment_reference=found.reference,
            refunded_total=refunded,
            reference=reference,
        ),
        session=session,
    )


async def _disputed(
    session: AsyncSession, kernel: Kernel, sender: Sender, dispute: dict[str, Any]
) -> None:
    """The buyer's bank took the money back: the ledger posts the dispute, once
    (``ticketing_dispute_opened``)."""
    found = await _payment(session, kernel, sender, dispute.get("payment_intent"))
    if found is None:
        return
    amount, reference = dispute.get("amount"), dispute.get("id")
    disputed = _money(amount, dispute.get("currency"))
    if (
        disputed is None
        or not 0 < disputed.amount <= found.amount.amount
        or disputed.currency != found.amount.currency
        or not isinstance(reference, str)
    ):
        logger.error(
            "stripe dispute that does not fit its payment ignored",
            extra={
                "payment_id": str(found.payment_id),
                "amount": amount,
                "currency": dispute.get("currency"),
            },
        )
        return
    await kernel.hooks.call(
        "ticketing_dispute_opened",
        organization_id=found.organization_id,
        report=DisputeOpened(
            provider=KEY,
            payment_reference=found.reference,
            amount=disputed,
            reference=reference,
            reason=str(dispute.get("reason") or "unknown"),
        ),
        session=session,
    )
