"""Ticket transfers: the rules every way of changing a ticket's hands shares.

A holder offers a ticket (:mod:`.transfer_offers`), the recipient accepts or declines
(:mod:`.transfer_answers`), an organizer reassigns it at once
(:mod:`.transfer_reassignment`); :mod:`.transfer_history` reads what happened. This
module holds what they share: the problems, the locks, the policy window, and the row
changes that close an offer or complete a transfer.

Completing a transfer closes the old ticket (``transferred``, its version moves on, so its
QR code stops working at once, offline lists included) and issues the new holder a new
ticket in its place: same event, date, type, issue position and order, a new code, and
``version = old version + 1``. An organizer's reassignment completes at once, without
acceptance and without the transfer policy (the organizer decides).

Who is who: the holder of a ticket is the user it was issued or transferred to, or any
user whose account email is its ``holder_email``; the recipient of an offer is any user
whose account email is its ``to_email``. Accounts are created only by the NextAuth front
end, which has authenticated the email, so matching by email is the platform's rule:
someone who signs up with the address an offer went to can accept it.

Lock order, the same everywhere tickets change (void, new QR code, check-in): the ticket
row first (``FOR UPDATE``), then its transfer rows. A check-in scan and an acceptance of
the same ticket therefore run one after the other: either the scan wins (the offer lapses,
409) or the transfer wins (the scan finds a ``transferred`` ticket) -- never both.

An offer that can no longer complete (its time ran out, the cut-off passed, the ticket
was checked in or voided) is marked ``expired`` when someone acts on it; the refusal is
:class:`OfferLapsed`, whose change the caller commits before answering.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, false, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.events import EventDate
from builtin_plugins.ticketing import ticket_settings
from builtin_plugins.ticketing.issuance import new_code
from builtin_plugins.ticketing.models import (
    Ticket,
    TicketStatus,
    TicketTransfer,
    TransferStatus,
)
from builtin_plugins.ticketing.tickets_service import account_email
from sdk import Conflict, NotFound, Principal
from sdk.clock import utcnow
from sdk.outbox import record_event

# -- problems ---------------------------------------------------------------------------


class NotTransferable(Conflict):
    code, title = "ticket-not-transferable", "The ticket cannot be transferred"


class TransfersDisabled(Conflict):
    code, title = "transfers-disabled", "Transfers are not allowed"


class CutoffPassed(Conflict):
    code, title = "transfer-cutoff-passed", "Too late to transfer"


class TransferPending(Conflict):
    code, title = "transfer-pending", "An offer is already pending"


class TransferClosed(Conflict):
    code, title = "transfer-closed", "The offer is closed"


class OfferLapsed(Conflict):
    """The offer cannot complete any more and was marked ``expired`` in the session.

    Commit the session, then answer with this problem: the offer stays expired although
    the request is refused.
    """

    code, title = "transfer-expired", "The offer has expired"


def not_transferable(ticket: Ticket) -> dict:
    """The details of :class:`NotTransferable` (also of an offer lapsing for it)."""
    return {
        "detail": f"The ticket is {ticket.status.value}; only a valid ticket can be transferred.",
        "ticket_status": ticket.status.value,
    }


def cutoff_passed(cutoff_at: datetime) -> dict:
    """The details of :class:`CutoffPassed` (also of an offer lapsing for it)."""
    return {
        "detail": f"Transfers of this ticket closed at {cutoff_at.isoformat()}.",
        "cutoff_at": cutoff_at.isoformat(),
    }


# -- who and what -----------------------------------------------------------------------


def offered_to(principal: Principal) -> ColumnElement[bool]:
    """Offers made to the signed-in user's email."""
    email = account_email(principal)
    if email is None:
        return false()
    return func.lower(TicketTransfer.to_email) == email


def effective_status(transfer: TicketTransfer, now: datetime | None = None) -> TransferStatus:
    """A pending offer past its expiry is expired, whether or not that was recorded yet."""
    now = now or utcnow()
    if (
        transfer.status is TransferStatus.PENDING
        and transfer.expires_at is not None
        and transfer.expires_at <= now
    ):
        return TransferStatus.EXPIRED
    return transfer.status


def by_organizer(transfer: TicketTransfer) -> bool:
    """An organizer's reassignment never waits for acceptance, so it has no expiry."""
    return transfer.expires_at is None


# -- locking (ticket first, then its transfers) -----------------------------------------


async def lock_ticket(session: AsyncSession, *where: ColumnElement[bool]) -> Ticket | None:
    return await session.scalar(
        select(Ticket).where(*where).with_for_update().execution_options(populate_existing=True)
    )


async def _lock_transfer(session: AsyncSession, transfer_id: uuid.UUID) -> TicketTransfer:
    transfer = await session.scalar(
        select(TicketTransfer)
        .where(TicketTransfer.id == transfer_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert transfer is not None  # transfers are never deleted while their ticket exists
    return transfer


async def lock_pending_offer(session: AsyncSession, ticket_id: uuid.UUID) -> TicketTransfer | None:
    """The ticket's pending offer, if any (lock the ticket first)."""
    return await session.scalar(
        select(TicketTransfer)
        .where(
            TicketTransfer.ticket_id == ticket_id,
            TicketTransfer.status == TransferStatus.PENDING,
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    )


async def lock_offer(
    session: AsyncSession, transfer_id: uuid.UUID, *who: ColumnElement[bool]
) -> tuple[Ticket, TicketTransfer]:
    """The transfer ``who`` may act on and its ticket, both locked in the fixed order."""
    ticket_id = await session.scalar(
        select(TicketTransfer.ticket_id)
        .join(Ticket, Ticket.id == TicketTransfer.ticket_id)
        .where(TicketTransfer.id == transfer_id, *who)
    )
    if ticket_id is None:
        raise NotFound(f"No ticket transfer {transfer_id}.")
    ticket = await lock_ticket(session, Ticket.id == ticket_id)
    assert ticket is not None
    return ticket, await _lock_transfer(session, transfer_id)


# -- policy -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Window:
    """Whether the ticket may change hands by its holder, and until when."""

    allowed: bool
    cutoff_at: datetime


async def window(session: AsyncSession, ticket: Ticket) -> Window:
    """The cut-off is the ticket's date's start minus the policy's cut-off hours."""
    policy = await ticket_settings.transfer_policy(session, ticket.organization_id, ticket.event_id)
    starts_at = await session.scalar(
        select(EventDate.starts_at).where(EventDate.id == ticket.event_date_id)
    )
    assert starts_at is not None
    return Window(policy.allowed, starts_at - timedelta(hours=policy.cutoff_hours))


# -- changes ----------------------------------------------------------------------------


async def close(
    session: AsyncSession,
    ticket: Ticket,
    transfer: TicketTransfer,
    status: TransferStatus,
    now: datetime,
) -> None:
    """Close an offer as ``status`` (both rows locked) and tell the outbox."""
    transfer.status = status
    transfer.closed_at = now
    await session.flush()
    await record_event(
        session,
        "ticket.transfer_closed",
        {
            "transfer_id": transfer.id,
            "ticket_id": ticket.id,
            "event_id": ticket.event_id,
            "status": status.value,
        },
        organization_id=ticket.organization_id,
    )


async def lapse(
    session: AsyncSession, ticket: Ticket, transfer: TicketTransfer, now: datetime, **problem
) -> OfferLapsed:
    """Mark the offer expired; the problem to raise (after committing) with ``problem``."""
    await close(session, ticket, transfer, TransferStatus.EXPIRED, now)
    return OfferLapsed(**problem)


async def close_pending(
    session: AsyncSession, ticket: Ticket, transfer: TicketTransfer, status: TransferStatus
) -> TicketTransfer:
    """Decline or withdraw an offer that is still pending; a lapsed one expires (409)."""
    now = utcnow()
    if transfer.status is not TransferStatus.PENDING:
        raise TransferClosed(
            f"The offer is already {transfer.status.value}.",
            transfer_status=transfer.status.value,
        )
    if effective_status(transfer, now) is TransferStatus.EXPIRED:
        raise await lapse(session, ticket, transfer, now, detail="The offer has expired.")
    await close(session, ticket, transfer, status, now)
    return transfer


async def complete(
    session: AsyncSession,
    ticket: Ticket,
    transfer: TicketTransfer,
    *,
    holder_user_id: uuid.UUID | None,
    completed_by: uuid.UUID | None,
    now: datetime,
) -> Ticket:
    """Close the old ticket, issue the new holder's, complete the transfer (all locked)."""
    version = ticket.version + 1
    ticket.status = TicketStatus.TRANSFERRED
    ticket.version = version
    ticket.transferred_at = now
    successor = Ticket(
        id=uuid.uuid4(),
        organization_id=ticket.organization_id,
        event_id=ticket.event_id,
        event_date_id=ticket.event_date_id,
        ticket_type_id=ticket.ticket_type_id,
        issue_id=ticket.issue_id,
        position=ticket.position,
        order_id=ticket.order_id,
        code=new_code(),
        status=TicketStatus.VALID,
        version=version,
        holder_name=transfer.to_name,
        holder_email=transfer.to_email,
        holder_user_id=holder_user_id,
        transferred_from_id=ticket.id,
    )
    session.add(successor)
    await session.flush()  # the new ticket exists before the transfer points at it
    transfer.status = TransferStatus.COMPLETED
    transfer.new_ticket_id = successor.id
    transfer.completed_by_user_id = completed_by
    transfer.closed_at = now
    await session.flush()
    await record_event(
        session,
        "ticket.transferred",
        {
            "from_ticket_id": ticket.id,
            "to_ticket_id": successor.id,
            "event_id": ticket.event_id,
            "transfer_id": transfer.id,
        },
        organization_id=ticket.organization_id,
    )
    return successor
