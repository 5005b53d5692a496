"""Fulfilling a paid order: its holds become sales and every unit becomes a ticket.

:func:`mark_paid` is the one path to ``paid`` -- a provider's report
(``ticketing_payment_settled``, :mod:`.provider_reports`), an organizer marking a bank
transfer received, a free order at checkout -- and is safe to call twice or
concurrently: the order row is locked and an order already paid returns its tickets.
The tickets are issued by whoever answers ``ticketing_order_paid`` (the ticketing
plugin), in the same transaction. The payment's money is posted to the ledger as the
order's charge (:mod:`.ledger`). After the caller committed, :func:`announce_paid` tells
the other plugins.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from sqlalchemy import event as orm_event
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.events import inventory
from builtin_plugins.orders import ledger, metrics
from builtin_plugins.orders.lifecycle import lock_order, record_transition
from builtin_plugins.orders.models import (
    Order,
    OrderLine,
    OrderStatus,
    Payment,
    PaymentStatus,
)
from sdk import (
    CheckoutLine,
    Conflict,
    IssuedTicket,
    Kernel,
    Money,
    OrderSnapshot,
    PaidLine,
    PaidOrder,
    PaymentSnapshot,
    TicketHolder,
)
from sdk.clock import utcnow

logger = logging.getLogger(__name__)

# A free order has no payment row; its snapshot carries the nil id and provider "none".
NO_PAYMENT_ID = uuid.UUID(int=0)
NO_PROVIDER = "none"


class OrderNotPayable(Conflict):
    code, title = "order-not-payable", "Order cannot be paid"


async def _lines(session: AsyncSession, order_id: uuid.UUID) -> list[OrderLine]:
    return list(
        await session.scalars(
            select(OrderLine).where(OrderLine.order_id == order_id).order_by(OrderLine.position)
        )
    )


def _holders(order: Order, line: OrderLine) -> tuple[TicketHolder, ...]:
    """The line's attendees, else the buyer for every unit; a ticket in the buyer's own
    email goes to the buyer's account."""
    buyer_email = order.buyer_email.strip().lower()
    named = [
        (str(a.get("name") or order.buyer_name), str(a.get("email") or order.buyer_email))
        for a in (line.attendees or [])[: line.quantity]
    ]
    named += [(order.buyer_name, order.buyer_email)] * (line.quantity - len(named))
    return tuple(
        TicketHolder(
            name=name,
            email=email,
            user_id=order.buyer_user_id if email.strip().lower() == buyer_email else None,
        )
        for name, email in named
    )


async def _issue(
    session: AsyncSession, kernel: Kernel, order: Order, lines: list[OrderLine]
) -> list[IssuedTicket]:
    """Each line's tickets (``ticketing_order_paid``); a line issued before answers its
    first tickets."""
    paid = PaidOrder(
        order_id=order.id,
        organization_id=order.organization_id,
        event_id=order.event_id,
        lines=tuple(
            PaidLine(
                line_id=line.id,
                ticket_type_id=line.ticket_type_id,
                event_date_id=line.event_date_id,
                sale_id=line.hold_id,
                holders=_holders(order, line),
            )
            for line in lines
        ),
    )
    answers = await kernel.hooks.call(
        "ticketing_order_paid", organization_id=order.organization_id, order=paid, session=session
    )
    return [ticket for answer in answers for ticket in answer]


def _settle(payment: Payment | None) -> None:
    if payment is not None and payment.status is not PaymentStatus.SUCCEEDED:
        payment.status = PaymentStatus.SUCCEEDED
        payment.succeeded_at = utcnow()
        payment.failure_reason = None


async def mark_paid(
    session: AsyncSession,
    kernel: Kernel,
    order: Order,
    *,
    payment: Payment | None,
    actor: str,
    actor_user_id: uuid.UUID | None = None,
    reason: str = "",
) -> list[IssuedTicket]:
    """Mark ``order`` paid in the caller's transaction and return its tickets.

    Idempotent: an order already paid returns the tickets it has. 409
    ``order-not-payable`` for an order neither pending nor paid (cancelled, expired,
    refunded). Each line's hold is converted into a sale -- an expired hold still
    converts while its units are free; when they went to someone else
    :class:`inventory.SoldOut` propagates and the caller rolls back. The money of such a
    late payment was taken all the same and must be refunded (the refunds work does).
    """
    order = await lock_order(session, order.id)
    lines = await _lines(session, order.id)
    if order.status is OrderStatus.PAID:
        if payment is not None and payment.status is not PaymentStatus.SUCCEEDED:
            logger.warning(
                "payment for an order already paid: it needs a refund",
                extra={"order_id": str(order.id), "payment_id": str(payment.id)},
            )
        _settle(payment)
        return await _issue(session, kernel, order, lines)
    if order.status is not OrderStatus.PENDING_PAYMENT:
        raise OrderNotPayable(
            f"Order {order.code} is {order.status.value}.", order_status=order.status.value
        )

    hold_ids = [line.hold_id for line in lines]
    await inventory.lock_holds(session, event_id=order.event_id, hold_ids=hold_ids)
    for hold_id in hold_ids:
        await inventory.convert_hold(session, hold_id=hold_id, event_id=order.event_id)
    tickets = await _issue(session, kernel, order, lines)
    order.paid_at = utcnow()
    await record_transition(
        session, order, OrderStatus.PAID, actor=actor, actor_user_id=actor_user_id, reason=reason
    )
    _settle(payment)
    if payment is not None:  # a free order moved no money: nothing to post
        await ledger.post_charge(session, order=order, payment=payment)
    await session.flush()
    metrics.count_paid(session, amount=order.total_amount, currency=order.currency)
    return tickets


def order_snapshot(
    order: Order, lines: list[OrderLine], *, catalog_version: int | None = None
) -> OrderSnapshot:
    return OrderSnapshot(
        order_id=order.id,
        organization_id=order.organization_id,
        event_id=order.event_id,
        buyer_id=order.buyer_user_id,
        status=order.status.value,
        total=Money(order.total_amount, order.currency),
        lines=tuple(
            CheckoutLine(
                ticket_type_id=line.ticket_type_id,
                quantity=line.quantity,
                unit_price=Money(line.unit_price_amount, order.currency),
            )
            for line in lines
        ),
        promo_code=order.promo_code,
        buyer_email=order.buyer_email,
        catalog_version=catalog_version,
    )


def payment_snapshot(order: Order, payment: Payment | None) -> PaymentSnapshot:
    if payment is None:  # a free order
        return PaymentSnapshot(
            payment_id=NO_PAYMENT_ID,
            order_id=order.id,
            provider=NO_PROVIDER,
            reference="",
            amount=Money(0, order.currency),
            status=PaymentStatus.SUCCEEDED.value,
        )
    return PaymentSnapshot(
        payment_id=payment.id,
        order_id=order.id,
        provider=payment.provider,
        reference=payment.reference or "",
        amount=Money(payment.amount, payment.currency),
        status=payment.status.value,
    )


async def announce_paid(kernel: Kernel, order: Order, payment: Payment | None) -> None:
    """After the commit: run ``ticketing_checkout_after_payment`` and publish availability.

    Each implementation runs on its own; one that raises is logged and the rest still
    run (the payment is committed, nothing can undo it now). ``order`` and its lines
    are read in a short session of their own, so the caller's may be closed.
    """
    async with kernel.database.transaction() as session:
        fresh = await session.get(Order, order.id)
        assert fresh is not None
        lines = await _lines(session, order.id)
        snapshot = order_snapshot(fresh, lines)
        settled = await session.get(Payment, payment.id) if payment is not None else None
        paid_with = payment_snapshot(fresh, settled)
        date_ids = sorted({line.event_date_id for line in lines})
    await kernel.hooks.call(
        "ticketing_checkout_after_payment",
        organization_id=snapshot.organization_id,
        order=snapshot,
        payment=paid_with,
    )
    for event_date_id in date_ids:
        await inventory.announce_availability(
            kernel, event_id=snapshot.event_id, event_date_id=event_date_id
        )


_after_commit_tasks: set[asyncio.Task[None]] = set()


def announce_after_commit(
    session: AsyncSession, kernel: Kernel, order: Order, payment: Payment | None
) -> None:
    """Run :func:`announce_paid` once ``session``'s transaction commits (for callers that
    do not own the transaction, such as a provider's webhook); nothing on a rollback."""
    loop = asyncio.get_running_loop()

    def fire(_session: Any) -> None:
        task = loop.create_task(announce_paid(kernel, order, payment))
        _after_commit_tasks.add(task)
        task.add_done_callback(_after_commit_tasks.discard)

    orm_event.listen(session.sync_session, "after_commit", fire, once=True)
