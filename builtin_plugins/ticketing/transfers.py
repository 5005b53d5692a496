"""Ticket transfers: a holder offers a ticket, the recipient accepts, the ticket changes hands.

Completing a transfer closes the old ticket (``transferred``, its version moves on, so its
QR code stops working at once, offline lists included) and issues the new holder a new
ticket in its place: same event, date, type, issue position and order, a new code, and
``version = old version + 1``. An organizer may reassign a ticket directly: it completes
at once, without acceptance and without the transfer policy (the organizer decides).

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
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, false, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.events.models import Event, EventDate, TicketType
from builtin_plugins.ticketing import ticket_settings
from builtin_plugins.ticketing.issuance import new_code
from builtin_plugins.ticketing.models import (
    Ticket,
    TicketStatus,
    TicketTransfer,
    TransferStatus,
)
from builtin_plugins.ticketing.tickets_service import account_email, held_by, holds
from kernel.clock import utcnow
from kernel.contracts import Principal
from kernel.outbox import record_event
from kernel.problems import Conflict, NotFound, UnprocessableContent

OFFER_LIFETIME = timedelta(days=7)


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


def _not_transferable(ticket: Ticket) -> dict:
    return {
        "detail": f"The ticket is {ticket.status.value}; only a valid ticket can be transferred.",
        "ticket_status": ticket.status.value,
    }


def _cutoff_passed(cutoff_at: datetime) -> dict:
    return {
        "detail": f"Transfers of this ticket closed at {cutoff_at.isoformat()}.",
        "cutoff_at": cutoff_at.isoformat(),
    }


# -- who ----------------------------------------------------------------------------------


def _to_me(principal: Principal) -> ColumnElement[bool]:
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


async def _lock_ticket(session: AsyncSession, *where: ColumnElement[bool]) -> Ticket | None:
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


async def _pending_offer(session: AsyncSession, ticket_id: uuid.UUID) -> TicketTransfer | None:
    return await session.scalar(
        select(TicketTransfer)
        .where(
            TicketTransfer.ticket_id == ticket_id,
            TicketTransfer.status == TransferStatus.PENDING,
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    )


async def _locked_pair(
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
    ticket = await _lock_ticket(session, Ticket.id == ticket_id)
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


async def _close(
    session: AsyncSession,
    ticket: Ticket,
    transfer: TicketTransfer,
    status: TransferStatus,
    now: datetime,
) -> None:
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


async def _lapse(
    session: AsyncSession, ticket: Ticket, transfer: TicketTransfer, now: datetime, **problem
) -> OfferLapsed:
    await _close(session, ticket, transfer, TransferStatus.EXPIRED, now)
    return OfferLapsed(**problem)


async def _complete(
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


@dataclass(frozen=True, slots=True)
class Giver:
    """Who offers or withdraws: the tickets they may give away, and who they are.

    A signed-in holder gives the tickets they hold (:meth:`holder`); a guest buyer gives
    the tickets of the order their credential opens (no account, so no user or email).
    """

    tickets: ColumnElement[bool]
    user_id: uuid.UUID | None = None
    email: str | None = None

    @classmethod
    def holder(cls, principal: Principal) -> Giver:
        return cls(held_by(principal), principal.user_id, account_email(principal))


async def offer(
    session: AsyncSession,
    principal: Principal,
    ticket_id: uuid.UUID,
    *,
    to_name: str,
    to_email: str,
    message: str = "",
) -> tuple[TicketTransfer, Ticket]:
    """The holder offers their valid ticket; it expires after a week or at the cut-off."""
    return await offer_as(
        session,
        Giver.holder(principal),
        ticket_id,
        to_name=to_name,
        to_email=to_email,
        message=message,
    )


async def offer_as(
    session: AsyncSession,
    giver: Giver,
    ticket_id: uuid.UUID,
    *,
    to_name: str,
    to_email: str,
    message: str = "",
) -> tuple[TicketTransfer, Ticket]:
    """``giver`` offers one of their valid tickets (see :func:`offer`)."""
    ticket = await _lock_ticket(session, Ticket.id == ticket_id, giver.tickets)
    if ticket is None:
        raise NotFound(f"No ticket {ticket_id}.")
    if ticket.status is not TicketStatus.VALID:
        raise NotTransferable(**_not_transferable(ticket))
    if to_email in {ticket.holder_email.lower(), giver.email}:
        raise UnprocessableContent(
            "A ticket cannot be transferred to its own holder.", code="transfer-to-self"
        )
    now = utcnow()
    policy = await window(session, ticket)
    if not policy.allowed:
        raise TransfersDisabled("The organizer does not allow transfers of this ticket.")
    if now >= policy.cutoff_at:
        raise CutoffPassed(**_cutoff_passed(policy.cutoff_at))
    pending = await _pending_offer(session, ticket.id)
    if pending is not None:
        if effective_status(pending, now) is TransferStatus.PENDING:
            raise TransferPending(
                "The ticket is already offered; withdraw that offer first.",
                transfer_id=str(pending.id),
            )
        await _close(session, ticket, pending, TransferStatus.EXPIRED, now)
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


async def accept(
    session: AsyncSession, principal: Principal, transfer_id: uuid.UUID
) -> tuple[TicketTransfer, Ticket, Ticket]:
    """The recipient accepts: returns (transfer, old ticket, new ticket).

    Everything is checked again under the locks: the offer is still pending and in time,
    the ticket still valid (checked in meanwhile: the offer lapses), the policy still
    allows it.
    """
    ticket, transfer = await _locked_pair(session, transfer_id, _to_me(principal))
    if transfer.status is not TransferStatus.PENDING:
        raise TransferClosed(
            f"The offer is {transfer.status.value}.", transfer_status=transfer.status.value
        )
    now = utcnow()
    if ticket.status is not TicketStatus.VALID:
        raise await _lapse(
            session, ticket, transfer, now, code=NotTransferable.code, **_not_transferable(ticket)
        )
    if effective_status(transfer, now) is TransferStatus.EXPIRED:
        assert transfer.expires_at is not None
        raise await _lapse(
            session,
            ticket,
            transfer,
            now,
            detail=f"The offer expired at {transfer.expires_at.isoformat()}.",
            expired_at=transfer.expires_at.isoformat(),
        )
    policy = await window(session, ticket)
    if not policy.allowed:
        raise TransfersDisabled("The organizer does not allow transfers of this ticket any more.")
    if now >= policy.cutoff_at:
        raise await _lapse(
            session,
            ticket,
            transfer,
            now,
            code=CutoffPassed.code,
            **_cutoff_passed(policy.cutoff_at),
        )
    successor = await _complete(
        session,
        ticket,
        transfer,
        holder_user_id=principal.user_id,
        completed_by=principal.user_id,
        now=now,
    )
    return transfer, ticket, successor


async def _close_open(
    session: AsyncSession, ticket: Ticket, transfer: TicketTransfer, status: TransferStatus
) -> TicketTransfer:
    now = utcnow()
    if transfer.status is not TransferStatus.PENDING:
        raise TransferClosed(
            f"The offer is already {transfer.status.value}.",
            transfer_status=transfer.status.value,
        )
    if effective_status(transfer, now) is TransferStatus.EXPIRED:
        raise await _lapse(session, ticket, transfer, now, detail="The offer has expired.")
    await _close(session, ticket, transfer, status, now)
    return transfer


async def decline(
    session: AsyncSession, principal: Principal, transfer_id: uuid.UUID
) -> tuple[TicketTransfer, Ticket]:
    """The recipient says no."""
    ticket, transfer = await _locked_pair(session, transfer_id, _to_me(principal))
    return await _close_open(session, ticket, transfer, TransferStatus.DECLINED), ticket


async def cancel(
    session: AsyncSession, principal: Principal, transfer_id: uuid.UUID
) -> tuple[TicketTransfer, Ticket]:
    """The holder withdraws the offer."""
    return await withdraw(session, Giver.holder(principal), transfer_id)


async def withdraw(
    session: AsyncSession, giver: Giver, transfer_id: uuid.UUID
) -> tuple[TicketTransfer, Ticket]:
    """``giver`` withdraws an offer of one of their tickets."""
    ticket, transfer = await _locked_pair(session, transfer_id, giver.tickets)
    return await _close_open(session, ticket, transfer, TransferStatus.CANCELLED), ticket


@dataclass(frozen=True, slots=True)
class Reassigned:
    transfer: TicketTransfer
    old: Ticket
    new: Ticket
    cancelled_offer: TicketTransfer | None


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
    is withdrawn. The policy and cut-off do not apply: the organizer decides."""
    ticket = await _lock_ticket(
        session,
        Ticket.id == ticket_id,
        Ticket.organization_id == organization_id,
        Ticket.event_id == event_id,
    )
    if ticket is None:
        raise NotFound(f"No ticket {ticket_id} for event {event_id}.")
    if ticket.status is not TicketStatus.VALID:
        raise NotTransferable(**_not_transferable(ticket))
    now = utcnow()
    pending = await _pending_offer(session, ticket.id)
    if pending is not None:
        await _close(session, ticket, pending, TransferStatus.CANCELLED, now)
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
        expires_at=None,  # see by_organizer()
    )
    session.add(transfer)
    successor = await _complete(
        session,
        ticket,
        transfer,
        holder_user_id=None,
        completed_by=organizer.user_id,
        now=now,
    )
    return Reassigned(transfer, ticket, successor, pending)


# -- reading ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Listed:
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
        .where(_to_me(principal) | held_by(principal))
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
    ticket = await session.scalar(select(Ticket).where(Ticket.id == ticket_id, giver.tickets))
    if ticket is None:
        raise NotFound(f"No ticket {ticket_id}.")
    return await _history(session, [ticket])


async def organizer_history(
    session: AsyncSession, *, organization_id: uuid.UUID, event_id: uuid.UUID, ticket_id: uuid.UUID
) -> list[TicketTransfer]:
    tickets = await chain(session, ticket_id)
    ticket = tickets[-1] if tickets else None
    if ticket is None or ticket.organization_id != organization_id or ticket.event_id != event_id:
        raise NotFound(f"No ticket {ticket_id} for event {event_id}.")
    return await _history(session, tickets)
