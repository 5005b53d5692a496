"""Ticket transfers: holders offer, recipients accept or decline, organizers reassign.

Holders and recipients act under ``/me`` (someone who is neither gets 404, as if the
ticket or offer did not exist); a guest buyer offers and withdraws the tickets of their
order under ``/orders/{order_id}`` with the order's credential (see
:mod:`.guest_access`); organizers under the event's tickets with ``tickets:manage``.

Accepting, declining and withdrawing run in an explicit transaction: when the offer turns
out to have lapsed, it is marked ``expired`` and that is committed before the 409 is
answered (a request-scoped session would roll it back with the error).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.identity import audit
from builtin_plugins.ticketing import transfers
from builtin_plugins.ticketing.guest_access import GuestOrder, of_order
from builtin_plugins.ticketing.models import Ticket, TicketTransfer
from builtin_plugins.ticketing.transfer_schemas import (
    MyTransferOut,
    OrganizerTransferCreate,
    OrganizerTransferOut,
    TicketReassigned,
    TransferAccepted,
    TransferCreate,
    TransferOut,
    TransferTicketRef,
)
from kernel.auth import public_or_signed_in, requires, signed_in
from kernel.codes import display_code
from kernel.context import Kernel
from kernel.contracts import OrderAccess, Principal
from kernel.dependencies import KernelDep, SessionDep
from kernel.pagination import ItemList

SignedIn = Annotated[Principal, signed_in()]
Manager = Annotated[Principal, requires("tickets:manage")]

me = APIRouter(prefix="/me", tags=["ticket transfers"])
organization = APIRouter(
    prefix="/organizations/{organization_id}/events/{event_id}/tickets/{ticket_id}",
    tags=["ticket transfers"],
)
guest = APIRouter(
    prefix="/orders/{order_id}",
    tags=["ticket transfers"],
    responses={
        401: {"description": "The order link expired (order-link-expired)"},
        404: {"description": "No such order, ticket or offer, or the credential does not open it"},
    },
)
routers = [me, organization, guest]


def _fields(transfer: TicketTransfer, *, for_holder: bool) -> dict:
    organizer = transfers.by_organizer(transfer)
    return {
        "id": transfer.id,
        "ticket_id": transfer.ticket_id,
        "new_ticket_id": transfer.new_ticket_id,
        "status": transfers.effective_status(transfer),
        "by_organizer": organizer,
        "from_name": transfer.from_name,
        "from_email": transfer.from_email,
        "to_name": transfer.to_name,
        "to_email": transfer.to_email,
        # An organizer's reason is the organization's record, not a note to the holders.
        "message": "" if organizer and for_holder else transfer.message,
        "created_at": transfer.created_at,
        "expires_at": transfer.expires_at,
        "closed_at": transfer.closed_at,
    }


def _holder_view(transfer: TicketTransfer) -> TransferOut:
    return TransferOut(**_fields(transfer, for_holder=True))


def _organizer_view(transfer: TicketTransfer) -> OrganizerTransferOut:
    return OrganizerTransferOut(
        **_fields(transfer, for_holder=False),
        initiated_by_user_id=transfer.initiated_by_user_id,
        completed_by_user_id=transfer.completed_by_user_id,
    )


def _my_view(listed: transfers.Listed) -> MyTransferOut:
    return MyTransferOut(
        **_fields(listed.transfer, for_holder=True),
        direction="incoming" if listed.incoming else "outgoing",
        ticket=TransferTicketRef(
            id=listed.ticket.id,
            event_id=listed.event.id,
            event_title=listed.event.title,
            ticket_type_id=listed.ticket_type.id,
            ticket_type_name=listed.ticket_type.name,
            date_id=listed.date.id,
            starts_at=listed.date.starts_at,
            ends_at=listed.date.ends_at,
        ),
    )


@asynccontextmanager
async def _committing_lapses(kernel: Kernel) -> AsyncIterator[AsyncSession]:
    """A transaction that also commits when the offer lapsed, then re-raises the 409."""
    lapsed = None
    async with kernel.database.transaction() as session:
        try:
            yield session
        except transfers.OfferLapsed as exc:
            lapsed = exc
    if lapsed is not None:
        raise lapsed


async def _close_offer(
    close: Callable[..., Awaitable[tuple[TicketTransfer, Ticket]]],
    action: str,
    transfer_id: uuid.UUID,
    principal: Principal,
    request: Request,
    kernel: Kernel,
) -> Response:
    """Decline or withdraw an offer (``close``), audited, in a lapse-committing transaction."""
    async with _committing_lapses(kernel) as session:
        transfer, ticket = await close(session, principal, transfer_id)
        await audit.record(
            session,
            action=action,
            actor_user_id=principal.user_id,
            organization_id=ticket.organization_id,
            request=request,
            target_type="ticket",
            target_id=ticket.id,
            details={"transfer_id": transfer.id},
        )
    return Response(status_code=204)


# -- holders and recipients -------------------------------------------------------------


@me.post(
    "/tickets/{ticket_id}/transfers",
    status_code=201,
    summary="Offer my ticket to someone; it changes hands when they accept",
)
async def offer_ticket(
    ticket_id: uuid.UUID,
    body: TransferCreate,
    principal: SignedIn,
    request: Request,
    session: SessionDep,
) -> MyTransferOut:
    transfer, ticket = await transfers.offer(
        session,
        principal,
        ticket_id,
        to_name=body.to_name,
        to_email=body.to_email,
        message=body.message,
    )
    await audit.record(
        session,
        action="ticket.transfer_offered",
        actor_user_id=principal.user_id,
        organization_id=ticket.organization_id,
        request=request,
        target_type="ticket",
        target_id=ticket.id,
        details={"transfer_id": transfer.id, "to_email": transfer.to_email},
    )
    await session.refresh(transfer)  # created_at comes from the database
    return _my_view(await transfers.describe(session, transfer, ticket, incoming=False))


@me.get(
    "/tickets/{ticket_id}/transfers",
    summary="How my ticket changed hands: every transfer along its chain, oldest first",
)
async def my_ticket_history(
    ticket_id: uuid.UUID, principal: SignedIn, session: SessionDep
) -> ItemList[TransferOut]:
    found = await transfers.holder_history(session, principal, ticket_id)
    return ItemList(items=[_holder_view(t) for t in found])


@me.get("/ticket-transfers", summary="Offers to me and of my tickets, newest first")
async def my_ticket_transfers(
    principal: SignedIn,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> ItemList[MyTransferOut]:
    found = await transfers.my_transfers(session, principal, limit=limit)
    return ItemList(items=[_my_view(t) for t in found])


@me.post(
    "/ticket-transfers/{transfer_id}/accept",
    summary="Accept an offer made to me: I get a new ticket, the old code stops working",
)
async def accept_transfer(
    transfer_id: uuid.UUID, principal: SignedIn, request: Request, kernel: KernelDep
) -> TransferAccepted:
    async with _committing_lapses(kernel) as session:
        transfer, old, new = await transfers.accept(session, principal, transfer_id)
        await audit.record(
            session,
            action="ticket.transferred",
            actor_user_id=principal.user_id,
            organization_id=old.organization_id,
            request=request,
            target_type="ticket",
            target_id=old.id,
            details={
                "transfer_id": transfer.id,
                "from_ticket_id": old.id,
                "to_ticket_id": new.id,
                "by": "holder",
                "to_email": new.holder_email,
            },
        )
    return TransferAccepted(
        transfer_id=transfer.id, ticket_id=new.id, code=display_code(new.code), version=new.version
    )


@me.post(
    "/ticket-transfers/{transfer_id}/decline",
    status_code=204,
    summary="Decline an offer made to me",
)
async def decline_transfer(
    transfer_id: uuid.UUID, principal: SignedIn, request: Request, kernel: KernelDep
) -> Response:
    return await _close_offer(
        transfers.decline, "ticket.transfer_declined", transfer_id, principal, request, kernel
    )


@me.delete(
    "/ticket-transfers/{transfer_id}",
    status_code=204,
    summary="Withdraw an offer of my ticket",
)
async def cancel_transfer(
    transfer_id: uuid.UUID, principal: SignedIn, request: Request, kernel: KernelDep
) -> Response:
    return await _close_offer(
        transfers.cancel, "ticket.transfer_cancelled", transfer_id, principal, request, kernel
    )


# -- organizers -------------------------------------------------------------------------


@organization.post(
    "/transfer",
    status_code=201,
    summary="Reassign a ticket at once (no acceptance, no transfer policy)",
)
async def reassign_ticket(
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    ticket_id: uuid.UUID,
    body: OrganizerTransferCreate,
    principal: Manager,
    request: Request,
    session: SessionDep,
) -> TicketReassigned:
    done = await transfers.reassign(
        session,
        principal,
        organization_id=organization_id,
        event_id=event_id,
        ticket_id=ticket_id,
        to_name=body.to_name,
        to_email=body.to_email,
        reason=body.reason,
    )
    await audit.record(
        session,
        action="ticket.transferred",
        actor_user_id=principal.user_id,
        organization_id=organization_id,
        request=request,
        target_type="ticket",
        target_id=done.old.id,
        details={
            "transfer_id": done.transfer.id,
            "from_ticket_id": done.old.id,
            "to_ticket_id": done.new.id,
            "by": "organizer",
            "to_email": done.new.holder_email,
            "reason": body.reason,
            "cancelled_offer_id": done.cancelled_offer.id if done.cancelled_offer else None,
        },
    )
    await session.refresh(done.transfer)  # created_at comes from the database
    return TicketReassigned(
        **_organizer_view(done.transfer).model_dump(),
        code=display_code(done.new.code),
        version=done.new.version,
        cancelled_offer_id=done.cancelled_offer.id if done.cancelled_offer else None,
    )


@organization.get(
    "/transfers",
    summary="How the ticket changed hands: every transfer along its chain, oldest first",
)
async def ticket_transfer_history(
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    ticket_id: uuid.UUID,
    principal: Manager,
    session: SessionDep,
) -> ItemList[OrganizerTransferOut]:
    found = await transfers.organizer_history(
        session, organization_id=organization_id, event_id=event_id, ticket_id=ticket_id
    )
    return ItemList(items=[_organizer_view(t) for t in found])


# -- guest buyers (the order's credential instead of an account) ------------------------


def _guest(order: OrderAccess) -> transfers.Giver:
    """A guest gives the tickets of the order their credential opened."""
    return transfers.Giver(of_order(order))


@guest.post(
    "/tickets/{ticket_id}/transfers",
    status_code=201,
    summary="Offer a ticket of my order to someone (X-Order-Token or ?token=)",
    dependencies=[public_or_signed_in()],
)
async def guest_offer_ticket(
    ticket_id: uuid.UUID,
    body: TransferCreate,
    order: GuestOrder,
    request: Request,
    session: SessionDep,
) -> MyTransferOut:
    transfer, ticket = await transfers.offer_as(
        session,
        _guest(order),
        ticket_id,
        to_name=body.to_name,
        to_email=body.to_email,
        message=body.message,
    )
    await audit.record(
        session,
        action="ticket.transfer_offered",
        actor_user_id=None,
        organization_id=ticket.organization_id,
        request=request,
        target_type="ticket",
        target_id=ticket.id,
        details={
            "transfer_id": transfer.id,
            "to_email": transfer.to_email,
            "order_id": order.order_id,
        },
    )
    await session.refresh(transfer)  # created_at comes from the database
    return _my_view(await transfers.describe(session, transfer, ticket, incoming=False))


@guest.get(
    "/tickets/{ticket_id}/transfers",
    summary="The offers made of a ticket of my order, oldest first",
    dependencies=[public_or_signed_in()],
)
async def guest_ticket_history(
    ticket_id: uuid.UUID, order: GuestOrder, session: SessionDep
) -> ItemList[TransferOut]:
    found = await transfers.given_history(session, _guest(order), ticket_id)
    return ItemList(items=[_holder_view(t) for t in found])


@guest.delete(
    "/ticket-transfers/{transfer_id}",
    status_code=204,
    summary="Withdraw an offer of a ticket of my order",
    dependencies=[public_or_signed_in()],
)
async def guest_cancel_transfer(
    transfer_id: uuid.UUID, order: GuestOrder, request: Request, kernel: KernelDep
) -> Response:
    async with _committing_lapses(kernel) as session:
        transfer, ticket = await transfers.withdraw(session, _guest(order), transfer_id)
        await audit.record(
            session,
            action="ticket.transfer_cancelled",
            actor_user_id=None,
            organization_id=ticket.organization_id,
            request=request,
            target_type="ticket",
            target_id=ticket.id,
            details={"transfer_id": transfer.id, "order_id": order.order_id},
        )
    return Response(status_code=204)
