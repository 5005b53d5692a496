"""Reading orders: for their buyer (signed in, or holding the order's access token) and
for the organizer, and the views the API shows.

Whoever may not see an order gets 404, exactly as if it did not exist. Every read expires
a pending order past its payment deadline first (:mod:`.lifecycle`), so nobody is shown
``pending_payment`` for an order that can no longer be paid.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from sqlalchemy import func, inspect, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.events import Event, EventDate, TicketType
from builtin_plugins.orders.guest_access import opens
from builtin_plugins.orders.lifecycle import expire_if_overdue, expire_overdue
from builtin_plugins.orders.models import Order, OrderLine, OrderStatus, OrderTransition, Payment
from builtin_plugins.orders.order_links import OrderLinks
from builtin_plugins.orders.refunds import buyer_refunds
from builtin_plugins.orders.schemas import (
    AttendeeOut,
    BuyerOrderOut,
    EventRef,
    OrderLineOut,
    OrderOut,
    OrderSummary,
    OrderTicketOut,
    OrganizerOrderOut,
    PaymentOut,
    TransitionOut,
)
from sdk import NotFound, OrderTicket, OrderTickets, Principal
from sdk.http import RowsPage, keyset_page

# -- finding orders -------------------------------------------------------------------------


async def order_for_buyer(
    session: AsyncSession,
    order_id: uuid.UUID,
    *,
    principal: Principal | None,
    access_token: str | None,
    links: OrderLinks,
) -> Order:
    """The order, if the caller is its signed-in buyer or sends its access token or a link
    token minted for it; else 404 (401 for an expired link). An overdue pending order is
    expired on the way."""
    order = await session.get(Order, order_id)
    if order is None or not opens(order, principal, access_token, links):
        raise NotFound(f"No order {order_id}.")
    await expire_if_overdue(session, order)
    return order


async def order_for_organizer(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    order_id: uuid.UUID,
) -> Order:
    order = await session.scalar(
        select(Order).where(
            Order.id == order_id,
            Order.organization_id == organization_id,
            Order.event_id == event_id,
        )
    )
    if order is None:
        raise NotFound(f"No order {order_id} for event {event_id}.")
    await expire_if_overdue(session, order)
    return order


async def buyer_orders(
    session: AsyncSession, *, user_id: uuid.UUID, limit: int, cursor: str | None = None
) -> RowsPage[Order]:
    """A signed-in buyer's orders, newest first, keyset-paginated on (created_at, id)."""
    await expire_overdue(session, buyer_user_id=user_id)
    query = select(Order).where(Order.buyer_user_id == user_id)
    return await keyset_page(
        session, query, at=Order.created_at, row_id=Order.id, cursor=cursor, limit=limit
    )


async def event_orders(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    limit: int,
    cursor: str | None = None,
    status: OrderStatus | None = None,
    search: str | None = None,
) -> RowsPage[Order]:
    """An event's orders for its organizer, newest first, keyset-paginated on (created_at,
    id); ``search`` matches part of the buyer's email or the whole order code. 404 for an
    event outside the organization."""
    event = await session.scalar(
        select(Event.id).where(Event.id == event_id, Event.organization_id == organization_id)
    )
    if event is None:
        raise NotFound(f"No event {event_id}.")
    await expire_overdue(session, event_id=event_id)
    query = select(Order).where(
        Order.organization_id == organization_id, Order.event_id == event_id
    )
    if status is not None:
        query = query.where(Order.status == status)
    if search:
        pattern = "%" + search.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_") + "%"
        code = search.replace("-", "").replace(" ", "").upper()
        query = query.where(or_(Order.buyer_email.ilike(pattern), Order.code == code))
    return await keyset_page(
        session, query, at=Order.created_at, row_id=Order.id, cursor=cursor, limit=limit
    )


async def codes_of(session: AsyncSession, order_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The code buyers quote, of each of these orders that exists."""
    if not order_ids:
        return {}
    rows = await session.execute(select(Order.id, Order.code).where(Order.id.in_(order_ids)))
    return {row.id: row.code for row in rows}


# -- what belongs to an order ---------------------------------------------------------------


async def lines_of(session: AsyncSession, order_ids: Sequence[uuid.UUID]) -> list[OrderLine]:
    if not order_ids:
        return []
    return list(
        await session.scalars(
            select(OrderLine)
            .where(OrderLine.order_id.in_(order_ids))
            .order_by(OrderLine.order_id, OrderLine.position)
        )
    )


async def payments_of(session: AsyncSession, order_id: uuid.UUID) -> list[Payment]:
    return list(
        await session.scalars(
            select(Payment)
            .where(Payment.order_id == order_id)
            .order_by(Payment.created_at, Payment.id)
        )
    )


async def transitions_of(session: AsyncSession, order_id: uuid.UUID) -> list[OrderTransition]:
    return list(
        await session.scalars(
            select(OrderTransition)
            .where(OrderTransition.order_id == order_id)
            # one transaction's changes share ``at``; the status enum orders them
            .order_by(OrderTransition.at, OrderTransition.from_status.asc().nulls_first())
        )
    )


# -- views ------------------------------------------------------------------------------------


async def _by_id(
    session: AsyncSession,
    model: Any,
    ids: set[uuid.UUID],
    known: Mapping[tuple[type, uuid.UUID], Any] | None = None,
) -> dict[uuid.UUID, Any]:
    found = {i: known[(model, i)] for i in ids if (model, i) in (known or {})}
    missing = ids - found.keys()
    if missing:
        rows = await session.scalars(select(model).where(model.id.in_(missing)))
        found.update((row.id, row) for row in rows)
    return found


def payment_view(payment: Payment) -> PaymentOut:
    return PaymentOut(
        id=payment.id,
        provider=payment.provider,
        status=payment.status,
        amount=payment.amount,
        currency=payment.currency,
        client_data=dict(payment.client_data or {}),
        failure_reason=payment.failure_reason,
        created_at=payment.created_at,
        succeeded_at=payment.succeeded_at,
    )


async def _fields(
    session: AsyncSession,
    order: Order,
    lines: Sequence[OrderLine],
    payments: Sequence[Payment],
    catalog: Sequence[Any] = (),
) -> dict[str, Any]:
    """What the buyer's and the organizer's views share; ``catalog`` rows already read
    (the event, its ticket types and dates, as checkout has them) are not read again."""
    known = {(type(row), row.id): row for row in catalog}
    event = known.get((Event, order.event_id)) or await session.get(Event, order.event_id)
    assert event is not None
    types = await _by_id(session, TicketType, {line.ticket_type_id for line in lines}, known)
    dates = await _by_id(session, EventDate, {line.event_date_id for line in lines}, known)
    latest = payments[-1] if payments else None
    return {
        "id": order.id,
        "code": order.code,
        "status": order.status,
        "event": EventRef(
            id=event.id, title=event.title, starts_at=event.starts_at, timezone=event.timezone
        ),
        "buyer_name": order.buyer_name,
        "buyer_email": order.buyer_email,
        "currency": order.currency,
        "subtotal_amount": order.subtotal_amount,
        "discount_amount": order.discount_amount,
        "tax_amount": order.tax_amount,
        "fee_amount": order.fee_amount,
        "total_amount": order.total_amount,
        "refunded_amount": order.refunded_amount,
        # refunds need a paid order: one never paid (a checkout's answer) has none to read
        "refunds": await buyer_refunds(session, order.id) if order.paid_at is not None else [],
        "promo_code": order.promo_code,
        "billing": dict(order.billing or {}),
        "payment_status": latest.status if latest is not None else None,
        "payment_provider": order.payment_provider,
        "expires_at": order.expires_at,
        "created_at": order.created_at,
        "paid_at": order.paid_at,
        "closed_at": order.closed_at,
        "lines": [
            OrderLineOut(
                id=line.id,
                position=line.position,
                ticket_type_id=line.ticket_type_id,
                ticket_type_name=types[line.ticket_type_id].name,
                date_id=line.event_date_id,
                date_starts_at=dates[line.event_date_id].starts_at,
                quantity=line.quantity,
                unit_price_amount=line.unit_price_amount,
                discount_amount=line.discount_amount,
                net_amount=line.net_amount,
                tax_amount=line.tax_amount,
                gross_amount=line.gross_amount,
                pricing=dict(line.pricing or {}),
                tax=(line.pricing or {}).get("tax"),
                attendees=[
                    AttendeeOut(
                        name=person["name"],
                        email=person["email"],
                        answers=person.get("answers") or {},
                    )
                    for person in line.attendees or []
                ],
            )
            for line in lines
        ],
    }


async def _fresh(session: AsyncSession, *rows: Any) -> None:
    """Write pending changes and read back what the database set (timestamps), so a view
    never lazy-loads."""
    await session.flush()
    for row in rows:
        expired = inspect(row).expired_attributes
        if expired:
            await session.refresh(row, list(expired))


async def _buyer_fields(
    session: AsyncSession,
    order: Order,
    lines: Sequence[OrderLine] | None = None,
    payments: Sequence[Payment] | None = None,
    catalog: Sequence[Any] = (),
) -> dict[str, Any]:
    lines = lines if lines is not None else await lines_of(session, [order.id])
    payments = payments if payments is not None else await payments_of(session, order.id)
    await _fresh(session, order, *lines, *payments)
    return await _fields(session, order, lines, payments, catalog)


async def buyer_view(
    session: AsyncSession,
    order: Order,
    lines: Sequence[OrderLine] | None = None,
    payments: Sequence[Payment] | None = None,
    catalog: Sequence[Any] = (),
) -> OrderOut:
    """The buyer's view of ``order``; ``catalog``: event, ticket type and date rows the
    caller holds already."""
    return OrderOut(**await _buyer_fields(session, order, lines, payments, catalog))


def _ticket_view(ticket: OrderTicket) -> OrderTicketOut:
    """The ticketing plugin's answer as the API shows it (the same fields; ``id`` is the
    ticket's)."""
    fields = asdict(ticket)
    return OrderTicketOut(id=fields.pop("ticket_id"), **fields)


async def buyer_view_with_tickets(
    session: AsyncSession, order: Order, tickets: OrderTickets | None
) -> BuyerOrderOut:
    """The buyer's view and, once paid, the order's tickets and their downloads."""
    found = tickets.tickets if tickets is not None else ()
    return BuyerOrderOut(
        **await _buyer_fields(session, order),
        tickets=[_ticket_view(ticket) for ticket in found],
        tickets_pdf_path=tickets.pdf_path if tickets is not None else None,
    )


async def organizer_view(session: AsyncSession, order: Order) -> OrganizerOrderOut:
    await _fresh(session, order)
    payments = await payments_of(session, order.id)
    fields = await _fields(session, order, await lines_of(session, [order.id]), payments)
    return OrganizerOrderOut(
        **fields,
        buyer_user_id=order.buyer_user_id,
        transitions=[
            TransitionOut(
                from_status=t.from_status,
                to_status=t.to_status,
                actor=t.actor,
                actor_user_id=t.actor_user_id,
                reason=t.reason,
                at=t.at,
            )
            for t in await transitions_of(session, order.id)
        ],
        payments=[payment_view(payment) for payment in payments],
    )


async def summaries(session: AsyncSession, orders: Sequence[Order]) -> list[OrderSummary]:
    ids = [order.id for order in orders]
    tickets: dict[uuid.UUID, int] = {}
    if ids:
        rows = await session.execute(
            select(OrderLine.order_id, func.sum(OrderLine.quantity))
            .where(OrderLine.order_id.in_(ids))
            .group_by(OrderLine.order_id)
        )
        tickets = {order_id: int(count) for order_id, count in rows}
    return [
        OrderSummary(
            id=order.id,
            code=order.code,
            status=order.status,
            event_id=order.event_id,
            buyer_name=order.buyer_name,
            buyer_email=order.buyer_email,
            tickets=tickets.get(order.id, 0),
            currency=order.currency,
            total_amount=order.total_amount,
            expires_at=order.expires_at,
            created_at=order.created_at,
            paid_at=order.paid_at,
        )
        for order in orders
    ]
