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
from collections.abc import Collection
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


def _fee(pricing: dict | None, quantity: int) -> int:
    adjustments = (pricing or {}).get("adjustments") or ()
    per_unit = sum(a.get("amount", 0) for a in adjustments if a.get("stage") == "fee")
    return per_unit * quantity


async def orders_facts(
    session: AsyncSession, *, organization_id: uuid.UUID, order_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, OrderFacts]:
    """The organization's orders among ``order_ids``, each with its lines in position
    order (an order not found, e.g. purged, is left out). Two statements for any number
    of orders, reading plain rows, so a rebuild replaying many events stays cheap."""
    if not order_ids:
        return {}
    ids = list(order_ids)
    orders = (
        await session.execute(
            select(
                Order.id,
                Order.event_id,
                Order.currency,
                Order.promo_code,
                Order.created_at,
                Event.timezone,
            )
            .join(Event, Event.id == Order.event_id)
            .where(Order.organization_id == organization_id, Order.id.in_(ids))
        )
    ).all()
    lines: dict[uuid.UUID, list[SoldLine]] = {order.id: [] for order in orders}
    rows = await session.execute(
        select(
            OrderLine.order_id,
            OrderLine.id,
            OrderLine.position,
            OrderLine.event_date_id,
            OrderLine.ticket_type_id,
            OrderLine.quantity,
            OrderLine.gross_amount,
            OrderLine.discount_amount,
            OrderLine.tax_amount,
            OrderLine.pricing,
        )
        .where(OrderLine.organization_id == organization_id, OrderLine.order_id.in_(ids))
        .order_by(OrderLine.order_id, OrderLine.position, OrderLine.id)
    )
    for row in rows:
        if row.order_id in lines:
            lines[row.order_id].append(
                SoldLine(
                    line_id=row.id,
                    position=row.position,
                    event_date_id=row.event_date_id,
                    ticket_type_id=row.ticket_type_id,
                    quantity=row.quantity,
                    gross=row.gross_amount,
                    discount=row.discount_amount,
                    tax=row.tax_amount,
                    fee=_fee(row.pricing, row.quantity),
                )
            )
    return {
        order.id: OrderFacts(
            order_id=order.id,
            organization_id=organization_id,
            event_id=order.event_id,
            event_timezone=order.timezone,
            currency=order.currency,
            promo_code=order.promo_code,
            channel=ONLINE,
            placed_at=order.created_at,
            lines=tuple(lines[order.id]),
        )
        for order in orders
    }


async def refunds_lines(
    session: AsyncSession, *, organization_id: uuid.UUID, refund_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, tuple[RefundedLine, ...]]:
    """The lines each of the organization's refunds named, in line order (a refund of
    money only, or one not found, names none)."""
    found: dict[uuid.UUID, list[RefundedLine]] = {refund_id: [] for refund_id in refund_ids}
    if not found:
        return {}
    rows = await session.execute(
        select(Refund.id, RefundItem.order_line_id, RefundItem.quantity, RefundItem.amount)
        .join(Refund, Refund.id == RefundItem.refund_id)
        .where(Refund.id.in_(list(found)), Refund.organization_id == organization_id)
        .order_by(Refund.id, RefundItem.order_line_id)
    )
    for refund_id, line_id, quantity, amount in rows:
        found[refund_id].append(RefundedLine(line_id, quantity, amount))
    return {refund_id: tuple(lines) for refund_id, lines in found.items()}
