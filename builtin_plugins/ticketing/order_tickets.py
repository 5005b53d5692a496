"""An order's tickets, as the orders plugin asks for them through hooks.

Orders never reads or writes these tables: when an order is paid it calls
``ticketing_order_paid`` (each paid line's tickets issued once, :mod:`.issuance`), when
a refund gives tickets back ``ticketing_order_refunded``, when a paid order is cancelled
``ticketing_order_voided``, and to know which tickets an order has
``ticketing_order_ticket_states``. All run in the caller's transaction.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.ticketing.issuance import Holder, issue_tickets
from builtin_plugins.ticketing.models import IssueKind, Ticket, TicketIssue
from builtin_plugins.ticketing.tickets_service import SCANNABLE, void_ticket
from sdk import IssuedTicket, OrderTicketState, PaidOrder, TicketsVoided


async def issue_paid(session: AsyncSession, order: PaidOrder) -> list[IssuedTicket]:
    """Each paid line's tickets; a line issued before returns its first tickets."""
    issued_tickets: list[IssuedTicket] = []
    for line in order.lines:
        issued = await issue_tickets(
            session,
            organization_id=order.organization_id,
            event_id=order.event_id,
            ticket_type_id=line.ticket_type_id,
            event_date_id=line.event_date_id,
            holders=[Holder(h.name, h.email, h.user_id) for h in line.holders],
            kind=IssueKind.ORDER,
            sale_id=line.sale_id,
            order_id=order.order_id,
            order_line_id=line.line_id,
        )
        issued_tickets.extend(
            IssuedTicket(ticket.id, ticket.code, line.line_id, ticket.position)
            for ticket in issued.tickets
        )
    return issued_tickets


async def states(session: AsyncSession, order_id: uuid.UUID) -> list[OrderTicketState]:
    """Every ticket the order issued, with its line, by line issue then position."""
    rows = await session.execute(
        select(Ticket, TicketIssue.order_line_id)
        .join(TicketIssue, TicketIssue.id == Ticket.issue_id)
        .where(Ticket.order_id == order_id)
        .order_by(Ticket.issue_id, Ticket.position, Ticket.created_at)
    )
    return [
        OrderTicketState(
            ticket_id=ticket.id,
            line_id=line_id,
            issue_id=ticket.issue_id,
            position=ticket.position,
            status=ticket.status.value,
            scannable=ticket.status in SCANNABLE,
        )
        for ticket, line_id in rows
    ]


async def _void(session: AsyncSession, asked: TicketsVoided, current: list[Ticket]) -> list[Ticket]:
    for ticket in current:
        await void_ticket(
            session,
            organization_id=asked.organization_id,
            event_id=ticket.event_id,
            ticket_id=ticket.id,
            reason=asked.reason[:500],
            release_inventory=asked.return_to_stock,
        )
    return current


async def void_units(session: AsyncSession, asked: TicketsVoided) -> list[uuid.UUID]:
    """Void the current tickets of the units ``asked.ticket_ids`` stand for (a ticket
    transferred since the refund was asked: its new holder's), all locked first, then
    inventory, as tickets lock."""
    if not asked.ticket_ids:
        return []
    units = {
        (issue_id, position)
        for issue_id, position in await session.execute(
            select(Ticket.issue_id, Ticket.position).where(
                Ticket.id.in_(asked.ticket_ids), Ticket.order_id == asked.order_id
            )
        )
    }
    if not units:
        return []
    current = list(
        await session.scalars(
            select(Ticket)
            .where(
                tuple_(Ticket.issue_id, Ticket.position).in_(sorted(units)),
                Ticket.status.in_(SCANNABLE),
            )
            .order_by(Ticket.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )
    return [ticket.id for ticket in await _void(session, asked, current)]


async def void_order(session: AsyncSession, asked: TicketsVoided) -> list[uuid.UUID]:
    """Void every ticket of the order that still admits someone."""
    current = list(
        await session.scalars(
            select(Ticket)
            .where(Ticket.order_id == asked.order_id, Ticket.status.in_(SCANNABLE))
            .order_by(Ticket.id)
            .with_for_update()
        )
    )
    return [ticket.id for ticket in await _void(session, asked, current)]
