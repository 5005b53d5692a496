"""What a refund gives back: which of an order's units, and what each is worth.

A unit is one admission of one line; its ticket is the line's ticket at that position
(a transferred ticket keeps its position, so a unit's current ticket is its new
holder's). A unit is refundable while its ticket is valid or checked in and no refund
that is not ``failed`` claims it -- so a pending refund's tickets cannot be refunded
again.

What a unit is worth: a line's gross is split across its units, the remainder cents on
the first units (2 tickets of a 25.01 line: 12.51 and 12.50); its tax is the line's tax
split the same way.

The tickets are the ticketing plugin's: it answers which an order has
(``ticketing_order_ticket_states``), read once per refund asked or settled.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.orders.models import (
    Order,
    OrderLine,
    Refund,
    RefundItem,
    RefundStatus,
)
from sdk import Conflict, Kernel, OrderTicketState, UnprocessableContent

VALID = "valid"  # a ticket not yet scanned (ticketing's status names)


class TicketNotInOrder(UnprocessableContent):
    code, title = "ticket-not-in-order", "Ticket not in this order"


class TicketNotRefundable(Conflict):
    code, title = "ticket-not-refundable", "Ticket already voided or refunded"


class LineNotInOrder(UnprocessableContent):
    code, title = "line-not-in-order", "Line not in this order"


class NotEnoughTickets(UnprocessableContent):
    code, title = "quantity-exceeds-refundable", "Fewer tickets left to refund"


@dataclass(frozen=True, slots=True)
class LineQuantity:
    line_id: uuid.UUID
    quantity: int


@dataclass(frozen=True, slots=True)
class Unit:
    """One refundable unit of a line: its current ticket and its share of the line."""

    ticket: OrderTicketState
    line: OrderLine
    amount: int
    tax: int


def split(total: int, parts: int) -> list[int]:
    """``total`` in ``parts`` shares, the remainder cents on the first ones."""
    base, extra = divmod(total, parts)
    return [base + (1 if index < extra else 0) for index in range(parts)]


def unit_share(line: OrderLine, position: int) -> tuple[int, int]:
    """(gross, tax) of the unit at ``position`` (1-based) of ``line``."""
    index = min(max(position, 1), line.quantity) - 1
    gross = split(line.gross_amount, line.quantity)[index]
    return gross, split(line.tax_amount, line.quantity)[index]


async def order_lines(session: AsyncSession, order_id: uuid.UUID) -> dict[uuid.UUID, OrderLine]:
    return {
        line.id: line
        for line in await session.scalars(
            select(OrderLine).where(OrderLine.order_id == order_id).order_by(OrderLine.position)
        )
    }


async def ticket_states(
    session: AsyncSession, kernel: Kernel, order: Order
) -> dict[uuid.UUID, OrderTicketState]:
    """Every ticket the order issued, current or not, by id (the ticketing plugin's
    answer; none while nobody issues tickets)."""
    found = await kernel.hooks.call(
        "ticketing_order_ticket_states",
        organization_id=order.organization_id,
        order_id=order.id,
        session=session,
    )
    return {state.ticket_id: state for state in found or ()}


async def claimed_units(
    session: AsyncSession, order_id: uuid.UUID, tickets: dict[uuid.UUID, OrderTicketState]
) -> set[tuple[uuid.UUID, int]]:
    """(issue, position) of every unit a refund that is not ``failed`` gives back."""
    ticket_ids = [
        uuid.UUID(ticket_id)
        for ids in await session.scalars(
            select(RefundItem.ticket_ids)
            .join(Refund, Refund.id == RefundItem.refund_id)
            .where(Refund.order_id == order_id, Refund.status != RefundStatus.FAILED)
        )
        for ticket_id in ids
    ]
    return {
        (tickets[ticket_id].issue_id, tickets[ticket_id].position)
        for ticket_id in ticket_ids
        if ticket_id in tickets
    }


async def remaining_units(
    session: AsyncSession,
    order: Order,
    lines: dict[uuid.UUID, OrderLine],
    tickets: dict[uuid.UUID, OrderTicketState],
) -> list[Unit]:
    """The order's refundable units, by line then position."""
    claimed = await claimed_units(session, order.id, tickets)
    units = []
    for ticket in tickets.values():
        line = lines.get(ticket.line_id) if ticket.line_id is not None else None
        if not ticket.scannable or line is None or (ticket.issue_id, ticket.position) in claimed:
            continue
        amount, tax = unit_share(line, ticket.position)
        units.append(Unit(ticket, line, amount, tax))
    units.sort(key=lambda unit: (unit.line.position, unit.ticket.position))
    return units


def units_of_tickets(
    order: Order,
    ticket_ids: Sequence[uuid.UUID],
    remaining: list[Unit],
    tickets: dict[uuid.UUID, OrderTicketState],
) -> list[Unit]:
    """The units of these tickets: 422 for a ticket of another order, 409 for one no
    longer refundable (voided, transferred on, refunded or being refunded)."""
    wanted = list(dict.fromkeys(ticket_ids))
    unknown = [str(ticket_id) for ticket_id in wanted if ticket_id not in tickets]
    if unknown:
        raise TicketNotInOrder(
            f"Not tickets of order {order.code}: {', '.join(unknown)}.", ticket_ids=unknown
        )
    by_ticket = {unit.ticket.ticket_id: unit for unit in remaining}
    taken = [ticket_id for ticket_id in wanted if ticket_id not in by_ticket]
    if taken:
        raise TicketNotRefundable(
            "Already voided, transferred on, or refunded (or being refunded): "
            f"{', '.join(map(str, taken))}.",
            ticket_ids=[str(ticket_id) for ticket_id in taken],
            ticket_statuses={str(i): tickets[i].status for i in taken},
        )
    return [by_ticket[ticket_id] for ticket_id in wanted]


def units_of_lines(
    asked: Sequence[LineQuantity], remaining: list[Unit], lines: dict[uuid.UUID, OrderLine]
) -> list[Unit]:
    """The last ``quantity`` refundable units of each line, valid tickets before checked-in
    ones: 422 for a line of another order or more units than are left."""
    quantities: dict[uuid.UUID, int] = {}
    for entry in asked:
        quantities[entry.line_id] = quantities.get(entry.line_id, 0) + entry.quantity
    unknown = [str(line_id) for line_id in quantities if line_id not in lines]
    if unknown:
        raise LineNotInOrder(f"Not lines of this order: {', '.join(unknown)}.", line_ids=unknown)
    chosen: list[Unit] = []
    for line_id, quantity in quantities.items():
        left = [unit for unit in remaining if unit.line.id == line_id]
        if quantity > len(left):
            raise NotEnoughTickets(
                f"Line {lines[line_id].position} has {len(left)} tickets left to refund, "
                f"not {quantity}.",
                line_id=str(line_id),
                refundable_quantity=len(left),
            )
        left.sort(key=lambda unit: (unit.ticket.status != VALID, -unit.ticket.position))
        chosen.extend(left[:quantity])
    return chosen


def items_for(refund: Refund, units: Sequence[Unit], amount: int) -> list[RefundItem]:
    """One item per line; each unit is worth its share, capped so the items never add up
    to more than the refund (a full refund after a money-only one)."""
    left = amount
    by_line: dict[uuid.UUID, RefundItem] = {}
    for unit in units:
        item = by_line.get(unit.line.id)
        if item is None:
            item = by_line[unit.line.id] = RefundItem(
                id=uuid.uuid4(),
                organization_id=refund.organization_id,
                refund_id=refund.id,
                order_line_id=unit.line.id,
                ticket_ids=[],
                quantity=0,
                amount=0,
            )
        worth = min(unit.amount, left)
        left -= worth
        item.ticket_ids = [*item.ticket_ids, str(unit.ticket.ticket_id)]
        item.quantity += 1
        item.amount += worth
    return list(by_line.values())


def items_tax(
    items: Sequence[RefundItem],
    lines: dict[uuid.UUID, OrderLine],
    tickets: dict[uuid.UUID, OrderTicketState],
) -> int:
    """The tax share of the units ``items`` give back."""
    return sum(
        unit_share(lines[item.order_line_id], tickets[uuid.UUID(ticket_id)].position)[1]
        for item in items
        for ticket_id in item.ticket_ids
        if uuid.UUID(ticket_id) in tickets
    )
