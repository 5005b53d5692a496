"""An organizer reassigns a ticket: it changes hands at once, without the recipient's
acceptance and without the transfer policy or cut-off (the organizer decides)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.ticketing.models import Ticket, TicketStatus, TicketTransfer, TransferStatus
from builtin_plugins.ticketing.transfers import (
    NotTransferable,
    close,
    complete,
    lock_pending_offer,
    lock_ticket,
    not_transferable,
)
from sdk import NotFound, Principal
from sdk.clock import utcnow


@dataclass(frozen=True, slots=True)
class Reassigned:
    transfer: TicketTransfer
    old: Ticket
    new: Ticket
    cancelled_offer: TicketTransfer | None  # the holder's pending offer, withdrawn


async def reassign(
    session: AsyncSession,
    organizer: Principal,
    *,
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    ticket_id: uuid.UUID,
    to_name: str,
    to_email: str,
    reason: str,
) -> Reassigned:
    """The organizer gives a valid ticket to someone else, at once; a pending holder offer
    is withdrawn."""
    ticket = await lock_ticket(
        session,
        Ticket.id == ticket_id,
        Ticket.organization_id == organization_id,
        Ticket.event_id == event_id,
    )
    if ticket is None:
        raise NotFound(f"No ticket {ticket_id} for event {event_id}.")
    if ticket.status is not TicketStatus.VALID:
        raise NotTransferable(**not_transferable(ticket))
    now = utcnow()
    pending = await lock_pending_offer(session, ticket.id)
    if pending is not None:
        await close(session, ticket, pending, TransferStatus.CANCELLED, now)
    transfer = TicketTransfer(
        id=uuid.uuid4(),
        organization_id=organization_id,
        ticket_id=ticket.id,
        status=TransferStatus.COMPLETED,
        from_name=ticket.holder_name,
        from_email=ticket.holder_email,
        to_name=to_name,
        to_email=to_email,
        message=reason,
        initiated_by_user_id=organizer.user_id,
        expires_at=None,  # see transfers.by_organizer()
    )
    session.add(transfer)
    successor = await complete(
        session,
        ticket,
        transfer,
        holder_user_id=None,
        completed_by=organizer.user_id,
        now=now,
    )
    return Reassigned(transfer, ticket, successor, pending)
