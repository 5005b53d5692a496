"""Refunding a cancelled event's orders in the background, through the outbox.

The events plugin records ``event.cancelled`` {event_id, organization_id, reason}. Two
subscriptions turn it into refunds, each delivery in its own transaction, retried with
back-off by the outbox relay until it commits:

1. ``orders.event-cancelled`` cancels the event's unpaid orders (their units go back at
   once) and records ``order.refund_requested`` {order_id, reason} for each paid or
   partially refunded order -- one small event per order, so one provider outage delays
   a few orders, not the whole event;
2. ``orders.refund-requested`` refunds one order in full (origin ``event_cancelled``,
   every remaining ticket voided). The refund's id is derived from the cancellation and
   the order, and the provider is asked with the key ``refund:<refund id>``: a delivery
   retried after a crash -- even one whose first attempt reached the provider and then
   rolled back -- asks for the same refund again and never refunds twice, and a refund
   that exists already is not asked again. A free order has no money to give back: its
   tickets are voided and it is cancelled.

The handlers call the payment provider inside their delivery transaction (a background
job holds nobody up); :func:`refunds.after_commit` runs the after-refund hook once the
delivery commits.

The handlers find the kernel (payment providers, hooks) in the context the relay hands
them (``ctx.kernel``).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.orders import refunds
from builtin_plugins.orders.lifecycle import (
    IllegalTransition,
    RefundRequired,
    cancel_pending,
    lock_order,
    record_transition,
)
from builtin_plugins.orders.models import Order, OrderStatus, Refund, RefundOrigin, RefundStatus
from sdk import Conflict, DomainEvent, Kernel, PluginContext, Subscription, TicketsVoided
from sdk.outbox import record_event

logger = logging.getLogger(__name__)

EVENT_CANCELLED = "event.cancelled"
REFUND_REQUESTED = "order.refund_requested"
# Refund ids of cancellations: uuid5(this, "<cancellation event id>:<order id>").
REFUND_NAMESPACE = uuid.UUID("4d0c1f52-8a5e-4d6f-9f61-7b0f2f1f0e21")
SYSTEM = "system"


def refund_id_for(cancellation_id: uuid.UUID | str, order_id: uuid.UUID | str) -> uuid.UUID:
    return uuid.uuid5(REFUND_NAMESPACE, f"{cancellation_id}:{order_id}")


# -- 1. the event was cancelled ------------------------------------------------------------------


async def on_event_cancelled(event: DomainEvent, session: AsyncSession, ctx: PluginContext) -> None:
    """Cancel the event's unpaid orders and ask for each paid one's refund."""
    event_id = uuid.UUID(str(event.payload["event_id"]))
    reason = str(event.payload.get("reason") or "the event was cancelled")
    pending = list(
        await session.scalars(
            select(Order)
            .where(Order.event_id == event_id, Order.status == OrderStatus.PENDING_PAYMENT)
            .order_by(Order.id)
        )
    )
    for order in pending:
        try:
            await cancel_pending(
                session,
                order,
                actor=SYSTEM,
                actor_user_id=None,
                reason=f"event cancelled: {reason}",
            )
        except (IllegalTransition, RefundRequired):
            pass  # expired, or paid meanwhile: the query below sees the paid ones
    paid = await session.execute(
        select(Order.id, Order.organization_id)
        .where(
            Order.event_id == event_id,
            Order.status.in_((OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED)),
        )
        .order_by(Order.id)
    )
    for order_id, organization_id in paid:
        await record_event(
            session,
            REFUND_REQUESTED,
            {
                "order_id": order_id,
                "reason": reason,
                "event_id": event_id,
                "cancellation_id": event.id,
            },
            organization_id=organization_id,
        )


# -- 2. one order's refund -----------------------------------------------------------------------


async def on_refund_requested(
    event: DomainEvent, session: AsyncSession, ctx: PluginContext
) -> None:
    """Refund one order in full, exactly once however often this is delivered."""
    kernel = ctx.kernel
    order_id = uuid.UUID(str(event.payload["order_id"]))
    reason = str(event.payload.get("reason") or "the event was cancelled")
    refund_id = refund_id_for(event.payload.get("cancellation_id") or event.id, order_id)
    order = await session.get(Order, order_id)
    if order is None or order.organization_id != event.organization_id:
        logger.warning("refund requested for an unknown order", extra={"order_id": str(order_id)})
        return
    order = await lock_order(session, order.id)
    existing = await session.get(Refund, refund_id)
    if existing is not None:  # asked before: only a refund still pending is asked again
        if existing.status is RefundStatus.PENDING and existing.reference is None:
            prepared = await refunds.prepared_of(session, existing)
            await _refund(session, kernel, prepared)
        return
    if order.status not in refunds.REFUNDABLE:
        return  # refunded in full meanwhile (or never paid)
    if order.total_amount == 0:
        await _cancel_free(session, kernel, order, reason)
        return
    try:
        prepared = await refunds.prepare(
            session,
            kernel,
            order=order,
            ask=refunds.RefundAsk(reason=reason),
            origin=RefundOrigin.EVENT_CANCELLED,
            requested_by_user_id=None,
            refund_id=refund_id,
        )
    except refunds.NothingToRefund:
        return  # other refunds (pending or done) already give everything back
    except Conflict as refused:  # the provider is gone: visible, and retried
        raise RuntimeError(f"order {order.code} cannot be refunded: {refused}") from refused
    await _refund(session, kernel, prepared)


async def _refund(session: AsyncSession, kernel: Kernel, prepared: refunds.Prepared) -> None:
    result = await refunds.ask_provider(kernel, prepared)
    if result is None:  # no answer: roll back and let the relay retry with the same key
        raise RuntimeError(f"the payment provider did not answer refund {prepared.refund_id}")
    refund = await refunds.apply_result(
        session, kernel, refund_id=prepared.refund_id, result=result, actor=SYSTEM
    )
    refunds.after_commit(session, kernel, [refund])


async def _cancel_free(session: AsyncSession, kernel: Kernel, order: Order, reason: str) -> None:
    """A free order of a cancelled event: its tickets are voided
    (``ticketing_order_voided``), the order cancelled."""
    await kernel.hooks.call(
        "ticketing_order_voided",
        organization_id=order.organization_id,
        tickets=TicketsVoided(
            order_id=order.id,
            organization_id=order.organization_id,
            reason=f"event cancelled: {reason}"[:500],
        ),
        session=session,
    )
    await record_transition(
        session, order, OrderStatus.CANCELLED, actor=SYSTEM, reason=f"event cancelled: {reason}"
    )


# -- wiring ----------------------------------------------------------------------------------------


def subscriptions() -> Sequence[Subscription]:
    return (
        Subscription(
            topic=EVENT_CANCELLED, consumer="orders.event-cancelled", handler=on_event_cancelled
        ),
        Subscription(
            topic=REFUND_REQUESTED, consumer="orders.refund-requested", handler=on_refund_requested
        ),
    )
