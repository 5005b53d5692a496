"""Offering a ticket to someone, and withdrawing the offer: the giver's side of a transfer.

The giver is a signed-in holder, or a guest buyer with their order's credential; both go
through the same code and differ only in which tickets they may give away (:class:`Giver`).
An offer expires after a week, or at the transfer cut-off if that comes first; the
ticket changes hands only when the recipient accepts (:mod:`.transfer_answers`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.ticketing.guest_access import of_order
from builtin_plugins.ticketing.models import Ticket, TicketStatus, TicketTransfer, TransferStatus
from builtin_plugins.ticketing.tickets_service import account_email, held_by
from builtin_plugins.ticketing.transfers import (
    CutoffPassed,
    NotTransferable,
    TransferPending,
    TransfersDisabled,
    close,
    close_pending,
    cutoff_passed,
    effective_status,
    lock_offer,
    lock_pending_offer,
    lock_ticket,
    not_transferable,
    window,
)
from sdk import NotFound, OrderAccess, Principal, UnprocessableContent
from sdk.clock import utcnow
from sdk.outbox import record_event

OFFER_LIFETIME = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class Giver:
    """Who offers or withdraws: the tickets they may give away, and who they are.

    A signed-in holder gives the tickets they hold (:meth:`holder`); a guest buyer gives
    the tickets of the order their credential opens (:meth:`guest`: no account, so no
    user or email; the order names them).
    """

    tickets: ColumnElement[bool]
    user_id: uuid.UUID | None = None
    email: str | None = None
    order_id: uuid.UUID | None = None

    @classmethod
    def holder(cls, principal: Principal) -> Giver:
        return cls(held_by(principal), principal.user_id, account_email(principal))

    @classmethod
    def guest(cls, order: OrderAccess) -> Giver:
        return cls(of_order(order), order_id=order.order_id)


async def offer(
    session: AsyncSession,
    giver: Giver,
    ticket_id: uuid.UUID,
    *,
    to_name: str,
    to_email: str,
    message: str = "",
) -> tuple[TicketTransfer, Ticket]:
    """``giver`` offers one of their valid tickets; it expires after a week or at the
    cut-off. A pending offer of the ticket must be withdrawn first (unless it lapsed)."""
    ticket = await lock_ticket(session, Ticket.id == ticket_id, giver.tickets)
    if ticket is None:
        raise NotFound(f"No ticket {ticket_id}.")
    if ticket.status is not TicketStatus.VALID:
        raise NotTransferable(**not_transferable(ticket))
    if to_email in {ticket.holder_email.lower(), giver.email}:
        raise UnprocessableContent(
            "A ticket cannot be transferred to its own holder.", code="transfer-to-self"
        )
    now = utcnow()
    policy = await window(session, ticket)
    if not policy.allowed:
        raise TransfersDisabled("The organizer does not allow transfers of this ticket.")
    if now >= policy.cutoff_at:
        raise CutoffPassed(**cutoff_passed(policy.cutoff_at))
    pending = await lock_pending_offer(session, ticket.id)
    if pending is not None:
        if effective_status(pending, now) is TransferStatus.PENDING:
            raise TransferPending(
                "The ticket is already offered; withdraw that offer first.",
                transfer_id=str(pending.id),
            )
        await close(session, ticket, pending, TransferStatus.EXPIRED, now)
    transfer = TicketTransfer(
        id=uuid.uuid4(),
        organization_id=ticket.organization_id,
        ticket_id=ticket.id,
        status=TransferStatus.PENDING,
        from_name=ticket.holder_name,
        from_email=ticket.holder_email,
        to_name=to_name,
        to_email=to_email,
        message=message,
        initiated_by_user_id=giver.user_id,
        expires_at=min(now + OFFER_LIFETIME, policy.cutoff_at),
    )
    session.add(transfer)
    await session.flush()
    await record_event(
        session,
        "ticket.transfer_offered",
        {
            "transfer_id": transfer.id,
            "ticket_id": ticket.id,
            "event_id": ticket.event_id,
            "to_name": to_name,
            "to_email": to_email,
            "expires_at": transfer.expires_at,
        },
        organization_id=ticket.organization_id,
    )
    return transfer, ticket


async def withdraw(
    session: AsyncSession, giver: Giver, transfer_id: uuid.UUID
) -> tuple[TicketTransfer, Ticket]:
    """``giver`` withdraws a pending offer of one of their tickets."""
    ticket, transfer = await lock_offer(session, transfer_id, giver.tickets)
    return await close_pending(session, ticket, transfer, TransferStatus.CANCELLED), ticket
