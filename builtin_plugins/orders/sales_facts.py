"""What other plugins may know of a sale: an order's lines and a refund's split, read-only.

A consumer of the ``order.*`` events (analytics) needs more than the events carry: each
line's event date, ticket type, quantity and amounts. They are read here, with the
consumer's session, rather than added to the event payloads, because:

* ``order.pending_payment`` is recorded on the flash-sale checkout path before the lines
  exist (:func:`.lifecycle.record_transition`); putting the lines into it would reorder
  or enlarge the hottest transaction for a reader that is not in a hurry;
* an order's lines and a refund's items never change once written, so reading them when
  the event is delivered, or again when a read model is rebuilt, gives the same answer;
* one function keeps the shape in one place, instead of every ``order.*`` payload.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.events import Event
from builtin_plugins.orders.models import Order, OrderLine, Refund, RefundItem

# Orders do not record where they were sold yet; every checkout is the online shop.
ONLINE = "online"


@dataclass(frozen=True, slots=True)
class SoldLine:
    """One order line; amounts in minor units of the order's currency, for all units.

    ``gross`` is what the buyer pays for it (tax and fees included, discounts taken
    off); ``discount`` what promo codes took off; ``fee`` the fee-stage adjustments.
    """

    line_id: uuid.UUID
    position: int
    event_date_id: uuid.UUID
    ticket_type_id: uuid.UUID
    quantity: int
    gross: int
    discount: int
    tax: int
    fee: int


@dataclass(frozen=True, slots=True)
class OrderFacts:
    """An order as a sales report sees it: where and when it was sold, and its lines."""

    order_id: uuid.UUID
    organization_id: uuid.UUID
    event_id: uuid.UUID
    event_timezone: str
    currency: str
    promo_code: str | None
    channel: str
    placed_at: datetime
    lines: tuple[SoldLine, ...]


@dataclass(frozen=True, slots=True)
class RefundedLine:
    """What a refund gave back of one line: units (possibly none) and money."""

    line_id: uuid.UUID
    quantity: int
    amount: int


def _fee(line: OrderLine) -> int:
    adjustments = (line.pricing or {}).get("adjustments") or ()
    per_unit = sum(a.get("amount", 0) for a in adjustments if a.get("stage") == "fee")
    return per_unit * line.quantity


async def order_facts(
    session: AsyncSession, *, organization_id: uuid.UUID, order_id: uuid.UUID
) -> OrderFacts | None:
    """The organization's order with its lines in position order; ``None`` if it has none."""
    row = (
        await session.execute(
            select(Order, Event.timezone)
            .join(Event, Event.id == Order.event_id)
            .where(Order.id == order_id, Order.organization_id == organization_id)
        )
    ).one_or_none()
    if row is None:
        return None
    order, timezone = row
    lines = await session.scalars(
        select(OrderLine)
        .where(OrderLine.order_id == order.id)
        .order_by(OrderLine.position, OrderLine.id)
    )
    return OrderFacts(
        order_id=order.id,
        organization_id=order.organization_id,
        event_id=order.event_id,
        event_timezone=timezone,
        currency=order.currency,
        promo_code=order.promo_code,
        channel=ONLINE,
        placed_at=order.created_at,
        lines=tuple(
            SoldLine(
                line_id=line.id,
                position=line.position,
                event_date_id=line.event_date_id,
                ticket_type_id=line.ticket_type_id,
                quantity=line.quantity,
                gross=line.gross_amount,
                discount=line.discount_amount,
                tax=line.tax_amount,
                fee=_fee(line),
            )
            for line in lines
        ),
    )


async def refunded_lines(
    session: AsyncSession, *, organization_id: uuid.UUID, refund_id: uuid.UUID
) -> tuple[RefundedLine, ...]:
    """The lines a refund named (none for a refund of money only), in line order."""
    rows = await session.execute(
        select(RefundItem.order_line_id, RefundItem.quantity, RefundItem.amount)
        .join(Refund, Refund.id == RefundItem.refund_id)
        .where(Refund.id == refund_id, Refund.organization_id == organization_id)
        .order_by(RefundItem.order_line_id)
    )
    return tuple(RefundedLine(line_id, quantity, amount) for line_id, quantity, amount in rows)
