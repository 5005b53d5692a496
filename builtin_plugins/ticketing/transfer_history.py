"""Reading transfers: a person's offers, and how a ticket changed hands.

A ticket that changed hands is a chain of tickets, each transferred from the one before.
Who sees which links of it: its organizer every one, a holder the transfers they took
part in, a guest giver the offers made of their order's ticket.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.events import Event, EventDate, TicketType
from builtin_plugins.ticketing.models import Ticket, TicketTransfer
from builtin_plugins.ticketing.tickets_service import account_email, held_by, holds, one_ticket
from builtin_plugins.ticketing.transfer_offers import Giver
from builtin_plugins.ticketing.transfers import offered_to
from sdk import NotFound, Principal


@dataclass(frozen=True, slots=True)
class Listed:
    """A transfer with its ticket's event, type and date, as a person's list shows it."""

    transfer: TicketTransfer
    ticket: Ticket
    event: Event
    ticket_type: TicketType
    date: EventDate
    incoming: bool


async def describe(
    session: AsyncSession, transfer: TicketTransfer, ticket: Ticket, *, incoming: bool
) -> Listed:
    event = await session.get(Event, ticket.event_id)
    ticket_type = await session.get(TicketType, ticket.ticket_type_id)
    date = await session.get(EventDate, ticket.event_date_id)
    assert event is not None and ticket_type is not None and date is not None
    return Listed(transfer, ticket, event, ticket_type, date, incoming)


async def my_transfers(session: AsyncSession, principal: Principal, *, limit: int) -> list[Listed]:
    """Offers to the user and of the user's tickets, newest first."""
    rows = await session.execute(
        select(TicketTransfer, Ticket, Event, TicketType, EventDate)
        .join(Ticket, Ticket.id == TicketTransfer.ticket_id)
        .join(Event, Event.id == Ticket.event_id)
        .join(TicketType, TicketType.id == Ticket.ticket_type_id)
        .join(EventDate, EventDate.id == Ticket.event_date_id)
        .where(offered_to(principal) | held_by(principal))
        .order_by(TicketTransfer.created_at.desc(), TicketTransfer.id.desc())
        .limit(limit)
    )
    email = account_email(principal)
    return [
        Listed(transfer, ticket, event, ticket_type, date, transfer.to_email.lower() == email)
        for transfer, ticket, event, ticket_type, date in rows
    ]


async def chain(session: AsyncSession, ticket_id: uuid.UUID) -> list[Ticket]:
    """The ticket and every ticket it was transferred from, oldest first (empty: no such
    ticket)."""
    up = (
        select(Ticket.id, Ticket.transferred_from_id)
        .where(Ticket.id == ticket_id)
        .cte("ticket_chain", recursive=True)
    )
    up = up.union_all(
        select(Ticket.id, Ticket.transferred_from_id).join(
            up, Ticket.id == up.c.transferred_from_id
        )
    )
    by_id = {
        t.id: t for t in await session.scalars(select(Ticket).where(Ticket.id.in_(select(up.c.id))))
    }
    found = []
    current = by_id.get(ticket_id)
    while current is not None:
        found.append(current)
        current = by_id.get(current.transferred_from_id) if current.transferred_from_id else None
    return found[::-1]


async def _history(session: AsyncSession, tickets: Sequence[Ticket]) -> list[TicketTransfer]:
    """Every transfer of the chain's tickets -- into each successor, and out of the last
    one -- oldest first."""
    found = await session.scalars(
        select(TicketTransfer)
        .where(TicketTransfer.ticket_id.in_([t.id for t in tickets]))
        .order_by(TicketTransfer.created_at, TicketTransfer.id)
    )
    return list(found)


async def holder_history(
    session: AsyncSession, principal: Principal, ticket_id: uuid.UUID
) -> list[TicketTransfer]:
    """For the holder of the ticket or of any ticket before it in its chain: the transfers
    they took part in (gave or received). Who held the ticket before them, or after,
    is not theirs to see."""
    tickets = await chain(session, ticket_id)
    held = {ticket.id for ticket in tickets if holds(principal, ticket)}
    if not held:
        raise NotFound(f"No ticket {ticket_id}.")
    return [
        transfer
        for transfer in await _history(session, tickets)
        if transfer.ticket_id in held or transfer.new_ticket_id in held
    ]


async def given_history(
    session: AsyncSession, giver: Giver, ticket_id: uuid.UUID
) -> list[TicketTransfer]:
    """The offers ``giver`` made of one of their tickets (what its next holders did with
    it is not theirs to see), oldest first."""
    ticket = await one_ticket(session, ticket_id, giver.tickets)
    return await _history(session, [ticket])


async def organizer_history(
    session: AsyncSession, *, organization_id: uuid.UUID, event_id: uuid.UUID, ticket_id: uuid.UUID
) -> list[TicketTransfer]:
    """Every transfer along the ticket's chain, oldest first."""
    tickets = await chain(session, ticket_id)
    ticket = tickets[-1] if tickets else None
    if ticket is None or ticket.organization_id != organization_id or ticket.event_id != event_id:
        raise NotFound(f"No ticket {ticket_id} for event {event_id}.")
    return await _history(session, tickets)
