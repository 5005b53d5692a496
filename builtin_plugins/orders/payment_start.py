"""Asking a provider that calls out, after the checkout committed, and what follows.

Checkout commits the order and its ``pending`` payment first (:func:`.payments.begin_payment`),
so no HTTP call runs with the event's inventory locks or the cart's hold rows held. Then:

1. :func:`call_provider` asks the provider with the payment's idempotency key
   (``order:<order id>:payment:<payment id>``), bounded by :data:`START_TIMEOUT_SECONDS`;
2. on an answer, :func:`record_answer` writes it in a short transaction of its own
   (reference, ``client_data``, status; a provider that settles at once pays the order);
3. on a refusal, an error or no answer in time, :func:`undo_start` cancels the order
   ("the payment could not be started"), fails the payment and gives the holds back to
   the buyer's cart with a fresh hold expiry, so retrying checkout works as before. The
   ``order.cancelled`` event gives a promo code's uses back (through the outbox).

A process that dies between the commit and step 2 or 3 leaves a pending order without
a payment reference: it expires at its payment deadline like any unpaid order.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.events import inventory
from builtin_plugins.orders.fulfilment import mark_paid
from builtin_plugins.orders.lifecycle import lock_order, record_transition
from builtin_plugins.orders.models import Order, OrderLine, OrderStatus, Payment, PaymentStatus
from builtin_plugins.orders.payments import PaymentCall
from builtin_plugins.orders.providers import provider_context
from sdk import Kernel, PaymentResult, Problem

logger = logging.getLogger(__name__)

START_TIMEOUT_SECONDS = 45  # longer than a provider's own timeout and retries should take
NOT_STARTED = "the payment could not be started"


class PaymentStartTimedOut(Problem):
    status, code, title = 504, "payment-provider-timeout", "Payment provider did not answer"


async def call_provider(kernel: Kernel, call: PaymentCall) -> PaymentResult:
    """The provider's answer to ``call``, asked outside any transaction; raises what the
    provider raised, or :class:`PaymentStartTimedOut`."""
    ctx = await provider_context(kernel, call.provider_key, call.organization_id)
    try:
        async with asyncio.timeout(START_TIMEOUT_SECONDS):
            return await call.provider.create_payment(call.request, ctx)
    except TimeoutError as error:
        raise PaymentStartTimedOut(
            "The payment provider did not answer in time: try again."
        ) from error


async def record_answer(
    session: AsyncSession, kernel: Kernel, call: PaymentCall, result: PaymentResult
) -> tuple[Order, Payment]:
    """Write the provider's answer on the pending payment (and pay the order if the
    provider settled at once and the order still waits for it). When the order is then
    ``paid`` the caller announces it after its commit."""
    order = await lock_order(session, call.order_id)
    payment = await session.get(Payment, call.payment_id, with_for_update=True)
    assert payment is not None
    status = PaymentStatus(result.status)
    payment.reference = result.reference
    payment.client_data = dict(result.client_data)
    payment.status = PaymentStatus.PENDING if status is PaymentStatus.SUCCEEDED else status
    await session.flush()
    if status is PaymentStatus.SUCCEEDED and order.status is OrderStatus.PENDING_PAYMENT:
        await mark_paid(session, kernel, order, payment=payment, actor="provider")
        await session.flush()
    return order, payment


async def undo_start(session: AsyncSession, call: PaymentCall, failure: str) -> Order:
    """Cancel the order whose payment could not be started, fail the payment with
    ``failure`` and hand the order's holds back to the cart they came from."""
    order = await lock_order(session, call.order_id)
    payment = await session.get(Payment, call.payment_id, with_for_update=True)
    assert payment is not None
    payment.status = PaymentStatus.FAILED
    payment.failure_reason = failure[:500]
    if order.status is not OrderStatus.PENDING_PAYMENT:
        return order  # closed meanwhile (by an organizer): nothing of it to give back
    await _give_holds_back(session, order)
    # the lines keep their prices; the holds are the cart's again, for the next order
    await session.execute(
        update(OrderLine).where(OrderLine.order_id == order.id).values(hold_id=None)
    )
    await record_transition(
        session, order, OrderStatus.CANCELLED, actor="system", reason=NOT_STARTED
    )
    await session.flush()
    return order


async def _give_holds_back(session: AsyncSession, order: Order) -> None:
    """The order's holds to its cart owner, expiring a normal hold's time from now. A
    hold that lost its units meanwhile (it cannot have, within the payment deadline, but
    the inventory says so) makes every hold be released instead."""
    seconds = inventory.hold_seconds()
    try:
        async with session.begin_nested():
            await inventory.attach_holds(
                session,
                event_id=order.event_id,
                owner=f"order:{order.id}",
                new_owner=order.hold_owner,
                expires_in_seconds=seconds,
                organization_id=order.organization_id,
            )
    except inventory.HoldExpired:
        logger.warning("holds of an unstarted payment released", extra={"order_id": str(order.id)})
        hold_ids = list(
            await session.scalars(select(OrderLine.hold_id).where(OrderLine.order_id == order.id))
        )
        await inventory.lock_holds(session, event_id=order.event_id, hold_ids=hold_ids)
        for hold_id in hold_ids:
            await inventory.release_hold(session, hold_id=hold_id, event_id=order.event_id)


def failure_of(error: BaseException) -> str:
    """What the payment's ``failure_reason`` says about ``error``."""
    if isinstance(error, Problem):
        return f"{error.code}: {error.detail or error.title}"
    return f"{type(error).__name__}: the payment provider failed"


__all__ = ["NOT_STARTED", "call_provider", "failure_of", "record_answer", "undo_start"]
