"""What payment providers report, answered inside the provider's transaction.

A provider (Stripe's webhook, or any third-party one) learns outcomes from its own
service and reports them through ``ticketing_payment_settled``,
``ticketing_payment_failed``, ``ticketing_refund_settled`` and
``ticketing_dispute_opened``; it finds its payment first with
``ticketing_provider_payment``. The provider records each report once in the same
transaction, so every effect here happens once however often a report is delivered.
Reports may also arrive late or out of order, so each effect checks the payment's
current status: a failure after success leaves the payment and its order paid, a
success for a payment already settled changes nothing.

Every effect locks the payment's order, then the payment (as the routes do). What other
plugins hear of it (the after-payment and after-refund hooks, availability) runs after
the provider's transaction commits.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.events.inventory import SoldOut
from builtin_plugins.orders import refunds
from builtin_plugins.orders.fulfilment import OrderNotPayable, announce_after_commit, mark_paid
from builtin_plugins.orders.ledger import record_dispute
from builtin_plugins.orders.lifecycle import lock_order
from builtin_plugins.orders.models import Order, OrderStatus, Payment, PaymentStatus
from sdk import (
    DisputeOpened,
    Kernel,
    Money,
    PaymentFailed,
    PaymentOutcome,
    PaymentSettled,
    ProviderPayment,
    RefundsSettled,
)
from sdk.clock import utcnow
from sdk.payments import (
    AMOUNT_DIFFERS,
    DISPUTED,
    FAILED,
    NOT_FULFILLED,
    PAID,
    REFUNDED,
    SETTLED,
    UNCHANGED,
)

logger = logging.getLogger(__name__)

UNSUCCESSFUL = {"failed": PaymentStatus.FAILED, "cancelled": PaymentStatus.CANCELLED}


def snapshot(payment: Payment) -> ProviderPayment:
    return ProviderPayment(
        payment_id=payment.id,
        organization_id=payment.organization_id,
        order_id=payment.order_id,
        provider=payment.provider,
        reference=payment.reference or "",
        amount=Money(payment.amount, payment.currency.upper()),
        status=payment.status.value,
        client_data=dict(payment.client_data or {}),
    )


def _outcome(payment: Payment, order: Order, outcome: str, **more: Any) -> PaymentOutcome:
    return PaymentOutcome(snapshot(payment), outcome, order.status.value, **more)


async def find(
    session: AsyncSession, organization_id: uuid.UUID | None, provider: str, reference: str
) -> Payment | None:
    """The provider's payment ``reference`` (of ``organization_id`` when given)."""
    if not reference:
        return None
    query = select(Payment).where(Payment.provider == provider, Payment.reference == reference)
    if organization_id is not None:
        query = query.where(Payment.organization_id == organization_id)
    return await session.scalar(query.limit(1))


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


def _fits(payment: Payment, money: Money) -> bool:
    return money.currency == payment.currency.upper()


async def settled(
    session: AsyncSession, kernel: Kernel, organization_id: uuid.UUID | None, report: PaymentSettled
) -> PaymentOutcome | None:
    """The payment succeeded: its order is paid (:func:`mark_paid`), once."""
    found = await find(session, organization_id, report.provider, report.reference)
    if found is None:
        return None
    order, payment = await _locked(session, found)
    if payment.status is PaymentStatus.SUCCEEDED:  # settled before (maybe refunded since)
        return _outcome(payment, order, UNCHANGED)
    if report.amount.amount != payment.amount or not _fits(payment, report.amount):
        logger.error(
            "provider's payment amount differs from the order's: not fulfilled",
            extra={
                "payment_id": str(payment.id),
                "received": report.amount.amount,
                "currency": report.amount.currency,
            },
        )
        return _outcome(payment, order, AMOUNT_DIFFERS)
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
            "payment for an order that cannot be fulfilled: it needs a refund",
            extra={"payment_id": str(payment.id), "order_id": str(payment.order_id)},
        )
        await session.flush()
        return _outcome(payment, await lock_order(session, order.id), NOT_FULFILLED)
    order = await lock_order(session, order.id)
    if not newly_paid:
        return _outcome(payment, order, SETTLED)
    announce_after_commit(session, kernel, order, payment)
    return _outcome(payment, order, PAID)


async def failed(
    session: AsyncSession, organization_id: uuid.UUID | None, report: PaymentFailed
) -> PaymentOutcome | None:
    """The payment failed or was cancelled, unless it already succeeded (out of order)."""
    status = UNSUCCESSFUL.get(report.status)
    if status is None:
        raise ValueError(f"a failed payment is failed or cancelled, not {report.status!r}")
    found = await find(session, organization_id, report.provider, report.reference)
    if found is None:
        return None
    order, payment = await _locked(session, found)
    if payment.status is PaymentStatus.SUCCEEDED:
        logger.info(
            "provider's report after the payment succeeded ignored",
            extra={"payment_id": str(payment.id), "status": status.value},
        )
        return _outcome(payment, order, UNCHANGED)
    payment.status = status
    payment.failure_reason = str(report.reason)[:500]
    await session.flush()
    return _outcome(payment, order, FAILED)


async def refunded(
    session: AsyncSession, kernel: Kernel, organization_id: uuid.UUID | None, report: RefundsSettled
) -> PaymentOutcome | None:
    """Money went back on the payment: settle our pending refunds and record the rest
    (:func:`refunds.reconcile_provider_refunds`); a repeated or older report changes
    nothing."""
    found = await find(session, organization_id, report.provider, report.payment_reference)
    if found is None:
        return None
    total = report.refunded_total
    order, payment = await _locked(session, found)
    if not 0 <= total.amount <= payment.amount or not _fits(payment, total):
        logger.error(
            "provider's refund report that does not fit its payment ignored",
            extra={
                "payment_id": str(payment.id),
                "amount_refunded": total.amount,
                "currency": total.currency,
            },
        )
        return _outcome(payment, order, UNCHANGED)
    if payment.status is not PaymentStatus.SUCCEEDED:
        logger.error(
            "provider's refund of a payment that never succeeded here ignored",
            extra={"payment_id": str(payment.id), "status": payment.status.value},
        )
        return _outcome(payment, order, UNCHANGED)
    settled_now = await refunds.reconcile_provider_refunds(
        session, kernel, payment=payment, refunded_total=total.amount, reference=report.reference
    )
    refunds.after_commit(session, kernel, settled_now)
    order = await lock_order(session, order.id)
    if not settled_now:
        return _outcome(payment, order, UNCHANGED)
    return _outcome(payment, order, REFUNDED, refund_ids=tuple(refund.id for refund in settled_now))


async def disputed(
    session: AsyncSession, organization_id: uuid.UUID | None, report: DisputeOpened
) -> PaymentOutcome | None:
    """The buyer's bank took the money back: the ledger posts the dispute, once."""
    found = await find(session, organization_id, report.provider, report.payment_reference)
    if found is None:
        return None
    order, payment = await _locked(session, found)
    if not 0 < report.amount.amount <= payment.amount or not _fits(payment, report.amount):
        logger.error(
            "provider's dispute that does not fit its payment ignored",
            extra={
                "payment_id": str(payment.id),
                "amount": report.amount.amount,
                "currency": report.amount.currency,
            },
        )
        return _outcome(payment, order, UNCHANGED)
    posted = await record_dispute(
        session,
        order=order,
        payment=payment,
        amount=report.amount.amount,
        reference=report.reference,
        reason=report.reason,
    )
    return _outcome(payment, order, DISPUTED if posted else UNCHANGED)
