"""Reading and changing tickets: organizer lists, holders' own tickets, void, new QR code.

Who holds a ticket: the user it was issued or transferred to (``holder_user_id``), or any
user whose account email is the ticket's ``holder_email``. Accounts are created only by
the NextAuth front end, which has authenticated the email, so a ticket issued to an
address before its owner signed up is theirs once they do.

Lock order when a ticket changes: the ticket row first (``FOR UPDATE``), then its transfer
offers, then inventory (see :mod:`builtin_plugins.events.inventory`). Check-in locks only
the ticket row, so nothing waits in a circle.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.events import Event, EventDate, TicketType, inventory
from builtin_plugins.identity import User
from builtin_plugins.ticketing import signing
from builtin_plugins.ticketing.models import (
    Ticket,
    TicketIssue,
    TicketStatus,
    TicketTransfer,
    TransferStatus,
)
from builtin_plugins.ticketing.ticket_schemas import (
    DateRef,
    EventRef,
    TicketOut,
    TicketTypeRef,
)
from sdk import Conflict, NotFound, Principal
from sdk.codes import display_code
from sdk.crypto import Encryptor
from sdk.http import RowsPage, keyset_page
from sdk.outbox import record_event

SCANNABLE = (TicketStatus.VALID, TicketStatus.CHECKED_IN)


class TicketNotChangeable(Conflict):
    code, title = "ticket-not-changeable", "The ticket can no longer change"


@dataclass(frozen=True, slots=True)
class Related:
    """The events, dates and ticket types a set of tickets points at, by id."""

    events: dict[uuid.UUID, Event]
    dates: dict[uuid.UUID, EventDate]
    types: dict[uuid.UUID, TicketType]


async def related(session: AsyncSession, tickets: Sequence[Ticket]) -> Related:
    async def by_id(model, ids):
        if not ids:
            return {}
        return {
            row.id: row for row in await session.scalars(select(model).where(model.id.in_(ids)))
        }

    return Related(
        events=await by_id(Event, {t.event_id for t in tickets}),
        dates=await by_id(EventDate, {t.event_date_id for t in tickets}),
        types=await by_id(TicketType, {t.ticket_type_id for t in tickets}),
    )


async def views(
    session: AsyncSession, encryptor: Encryptor, tickets: Sequence[Ticket]
) -> list[TicketOut]:
    """Tickets as the API shows them, with a freshly signed QR payload for scannable ones."""
    if not tickets:
        return []
    found = await related(session, tickets)
    keys: dict[uuid.UUID, signing.SigningKey] = {}
    result = []
    for ticket in tickets:
        payload = None
        if ticket.status in SCANNABLE:
            key = keys.get(ticket.organization_id)
            if key is None:
                key = keys[ticket.organization_id] = await signing.signing_key(
                    session, encryptor, ticket.organization_id
                )
            payload = qr_payload(key, ticket)
        event, date = found.events[ticket.event_id], found.dates[ticket.event_date_id]
        result.append(
            TicketOut(
                id=ticket.id,
                code=display_code(ticket.code),
                status=ticket.status,
                version=ticket.version,
                holder_name=ticket.holder_name,
                holder_email=ticket.holder_email,
                event=EventRef(
                    id=event.id,
                    title=event.title,
                    timezone=event.timezone,
                    venue_name=event.venue_name,
                ),
                date=DateRef(id=date.id, starts_at=date.starts_at, ends_at=date.ends_at),
                ticket_type=TicketTypeRef(
                    id=ticket.ticket_type_id, name=found.types[ticket.ticket_type_id].name
                ),
                order_id=ticket.order_id,
                issued_at=ticket.created_at,
                checked_in_at=ticket.checked_in_at,
                voided_at=ticket.voided_at,
                void_reason=ticket.void_reason,
                transferred_from_id=ticket.transferred_from_id,
                transferred_at=ticket.transferred_at,
                qr_payload=payload,
            )
        )
    return result


def qr_payload(key: signing.SigningKey, ticket: Ticket) -> str:
    return key.sign(
        ticket_id=ticket.id,
        event_id=ticket.event_id,
        ticket_type_id=ticket.ticket_type_id,
        version=ticket.version,
    )


# -- organizers -----------------------------------------------------------------------------


async def get_ticket(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    ticket_id: uuid.UUID,
    for_update: bool = False,
) -> Ticket:
    query = select(Ticket).where(
        Ticket.id == ticket_id,
        Ticket.organization_id == organization_id,
        Ticket.event_id == event_id,
    )
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    ticket = await session.scalar(query)
    if ticket is None:
        raise NotFound(f"No ticket {ticket_id} for event {event_id}.")
    return ticket


async def list_tickets(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    limit: int,
    cursor: str | None = None,
    status: TicketStatus | None = None,
    ticket_type_id: uuid.UUID | None = None,
    date_id: uuid.UUID | None = None,
    order_id: uuid.UUID | None = None,
    search: str | None = None,
) -> RowsPage[Ticket]:
    """Newest first, keyset-paginated on (created_at, id); ``search`` matches the holder's
    name or email, or the code."""
    query = select(Ticket).where(
        Ticket.organization_id == organization_id, Ticket.event_id == event_id
    )
    if status is not None:
        query = query.where(Ticket.status == status)
    if ticket_type_id is not None:
        query = query.where(Ticket.ticket_type_id == ticket_type_id)
    if date_id is not None:
        query = query.where(Ticket.event_date_id == date_id)
    if order_id is not None:
        query = query.where(Ticket.order_id == order_id)
    if search:
        pattern = "%" + search.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_") + "%"
        compact = search.replace("-", "").replace(" ", "").upper()
        query = query.where(
            or_(
                Ticket.holder_name.ilike(pattern),
                Ticket.holder_email.ilike(pattern),
                Ticket.code == compact,
            )
        )
    return await keyset_page(
        session, query, at=Ticket.created_at, row_id=Ticket.id, cursor=cursor, limit=limit
    )


async def _close_offers(session: AsyncSession, ticket: Ticket, status: TransferStatus) -> None:
    await session.execute(
        update(TicketTransfer)
        .where(
            TicketTransfer.ticket_id == ticket.id, TicketTransfer.status == TransferStatus.PENDING
        )
        .values(status=status, closed_at=func.now())
    )


async def void_ticket(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    ticket_id: uuid.UUID,
    reason: str,
    release_inventory: bool,
) -> tuple[Ticket, bool]:
    """Void a ticket: its QR code and typed code stop working at once (the version moves
    on, so offline lists learn it too), pending transfer offers lapse, and with
    ``release_inventory`` its unit goes back on sale. Returns (ticket, unit released)."""
    ticket = await get_ticket(
        session,
        organization_id=organization_id,
        event_id=event_id,
        ticket_id=ticket_id,
        for_update=True,
    )
    if ticket.status not in SCANNABLE:
        raise TicketNotChangeable(
            f"The ticket is {ticket.status.value}.", ticket_status=ticket.status.value
        )
    ticket.status = TicketStatus.VOID
    ticket.version += 1
    ticket.voided_at = await session.scalar(select(func.now()))
    ticket.void_reason = reason
    await _close_offers(session, ticket, TransferStatus.CANCELLED)
    released = False
    if release_inventory:
        sale_id = await session.scalar(
            select(TicketIssue.sale_id).where(TicketIssue.id == ticket.issue_id)
        )
        if sale_id is not None:
            await inventory.return_to_stock(
                session, hold_id=sale_id, quantity=1, organization_id=organization_id
            )
            released = True
    await session.flush()
    await record_event(
        session,
        "ticket.voided",
        {
            "ticket_id": ticket.id,
            "event_id": ticket.event_id,
            "order_id": ticket.order_id,
            "reason": reason,
            "inventory_released": released,
        },
        organization_id=organization_id,
    )
    return ticket, released


async def new_qr_code(
    session: AsyncSession, *, organization_id: uuid.UUID, event_id: uuid.UUID, ticket_id: uuid.UUID
) -> Ticket:
    """A new QR code for a valid ticket (a photo of it was shared, say): the version moves
    on, so every payload printed before is refused."""
    ticket = await get_ticket(
        session,
        organization_id=organization_id,
        event_id=event_id,
        ticket_id=ticket_id,
        for_update=True,
    )
    if ticket.status is not TicketStatus.VALID:
        raise TicketNotChangeable(
            f"Only a valid ticket gets a new QR code; this one is {ticket.status.value}.",
            ticket_status=ticket.status.value,
        )
    ticket.version += 1
    await session.flush()
    return ticket


# -- holders --------------------------------------------------------------------------------


def account_email(principal: Principal) -> str | None:
    """The signed-in user's email as tickets and offers store it (lower case)."""
    return principal.email.strip().lower() if principal.email else None


def _held(user_id: Any, email: Any) -> ColumnElement[bool]:
    """The holder rule in SQL: issued or transferred to the user, or to their email."""
    return or_(Ticket.holder_user_id == user_id, func.lower(Ticket.holder_email) == email)


def held_by(principal: Principal) -> ColumnElement[bool]:
    """Tickets the signed-in user holds (see the module docstring)."""
    email = account_email(principal)
    if email is None:
        return Ticket.holder_user_id == principal.user_id
    return _held(principal.user_id, email)


def holds(principal: Principal, ticket: Ticket) -> bool:
    """:func:`held_by` for a ticket already loaded."""
    email = account_email(principal)
    return (principal.user_id is not None and ticket.holder_user_id == principal.user_id) or (
        email is not None and ticket.holder_email.lower() == email
    )


async def my_tickets(
    session: AsyncSession,
    principal: Principal,
    *,
    event_id: uuid.UUID | None = None,
    order_id: uuid.UUID | None = None,
    include_closed: bool = False,
) -> list[Ticket]:
    """The user's tickets, soonest date first; void and transferred ones on request."""
    query = (
        select(Ticket)
        .join(EventDate, EventDate.id == Ticket.event_date_id)
        .where(held_by(principal))
    )
    if not include_closed:
        query = query.where(Ticket.status.in_(SCANNABLE))
    if event_id is not None:
        query = query.where(Ticket.event_id == event_id)
    if order_id is not None:
        query = query.where(Ticket.order_id == order_id)
    return list(await session.scalars(query.order_by(EventDate.starts_at, Ticket.created_at)))


async def one_ticket(
    session: AsyncSession,
    ticket_id: uuid.UUID,
    *where: ColumnElement[bool],
    missing: str | None = None,
) -> Ticket:
    """The ticket when it meets every condition in ``where``; otherwise 404, with
    ``missing`` as the detail (default "No ticket <id>."): a ticket the caller may not
    reach is answered exactly as one that does not exist."""
    ticket = await session.scalar(select(Ticket).where(Ticket.id == ticket_id, *where))
    if ticket is None:
        raise NotFound(missing or f"No ticket {ticket_id}.")
    return ticket


async def my_ticket(session: AsyncSession, principal: Principal, ticket_id: uuid.UUID) -> Ticket:
    return await one_ticket(session, ticket_id, held_by(principal))


async def holds_ticket_for(
    session: AsyncSession, *, event_id: uuid.UUID, user_id: uuid.UUID
) -> bool:
    """Whether the user holds a valid or used ticket for the event (attendee-only content)."""
    email = select(func.lower(User.email)).where(User.id == user_id).scalar_subquery()
    found = await session.scalar(
        select(Ticket.id)
        .where(Ticket.event_id == event_id, Ticket.status.in_(SCANNABLE), _held(user_id, email))
        .limit(1)
    )
    return found is not None
