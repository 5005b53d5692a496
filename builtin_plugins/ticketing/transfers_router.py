"""Ticket transfers: holders offer, recipients accept or decline, organizers reassign.

Holders and recipients act under ``/me`` (someone who is neither gets 404, as if the
ticket or offer did not exist); organizers under the event's tickets with
``tickets:manage``. A guest buyer offers and withdraws the tickets of their order with
the order's credential (:mod:`.guest_transfers_router`), through the same code.

Accepting, declining and withdrawing run in an explicit transaction: when the offer turns
out to have lapsed, it is marked ``expired`` and that is committed before the 409 is
answered (see :func:`.transfer_commands.committing_lapses`).
"""

from __future__ import annotations

import uuid
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from builtin_plugins.ticketing import transfer_answers, transfer_history, transfer_reassignment
from builtin_plugins.ticketing.transfer_commands import (
    audit_ticket,
    close_offer,
    committing_lapses,
    make_offer,
    withdraw_offer,
)
from builtin_plugins.ticketing.transfer_offers import Giver
from builtin_plugins.ticketing.transfer_schemas import (
    MyTransferOut,
    OrganizerTransferCreate,
    OrganizerTransferOut,
    TicketReassigned,
    TransferAccepted,
    TransferCreate,
    TransferOut,
)
from builtin_plugins.ticketing.transfer_views import holder_view, my_view, organizer_view
from sdk import Principal
from sdk.codes import display_code
from sdk.http import ItemList, KernelDep, SessionDep, requires, signed_in

SignedIn = Annotated[Principal, signed_in()]
Manager = Annotated[Principal, requires("tickets:manage")]

me = APIRouter(prefix="/me", tags=["ticket transfers"])
organization = APIRouter(
    prefix="/organizations/{organization_id}/events/{event_id}/tickets/{ticket_id}",
    tags=["ticket transfers"],
)
routers = [me, organization]


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
    return await make_offer(Giver.holder(principal), ticket_id, body, request, session)


@me.get(
    "/tickets/{ticket_id}/transfers",
    summary="How my ticket changed hands: every transfer along its chain, oldest first",
)
async def my_ticket_history(
    ticket_id: uuid.UUID, principal: SignedIn, session: SessionDep
) -> ItemList[TransferOut]:
    found = await transfer_history.holder_history(session, principal, ticket_id)
    return ItemList(items=[holder_view(t) for t in found])


@me.get("/ticket-transfers", summary="Offers to me and of my tickets, newest first")
async def my_ticket_transfers(
    principal: SignedIn,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> ItemList[MyTransferOut]:
    found = await transfer_history.my_transfers(session, principal, limit=limit)
    return ItemList(items=[my_view(t) for t in found])


@me.post(
    "/ticket-transfers/{transfer_id}/accept",
    summary="Accept an offer made to me: I get a new ticket, the old code stops working",
)
async def accept_transfer(
    transfer_id: uuid.UUID, principal: SignedIn, request: Request, kernel: KernelDep
) -> TransferAccepted:
    async with committing_lapses(kernel) as session:
        transfer, old, new = await transfer_answers.accept(session, principal, transfer_id)
        await audit_ticket(
            session,
            request,
            "ticket.transferred",
            old,
            actor_user_id=principal.user_id,
            transfer_id=transfer.id,
            from_ticket_id=old.id,
            to_ticket_id=new.id,
            by="holder",
            to_email=new.holder_email,
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
    return await close_offer(
        kernel,
        request,
        partial(transfer_answers.decline, principal=principal, transfer_id=transfer_id),
        action="ticket.transfer_declined",
        actor_user_id=principal.user_id,
    )


@me.delete(
    "/ticket-transfers/{transfer_id}",
    status_code=204,
    summary="Withdraw an offer of my ticket",
)
async def cancel_transfer(
    transfer_id: uuid.UUID, principal: SignedIn, request: Request, kernel: KernelDep
) -> Response:
    return await withdraw_offer(Giver.holder(principal), transfer_id, request, kernel)


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
    done = await transfer_reassignment.reassign(
        session,
        principal,
        organization_id=organization_id,
        event_id=event_id,
        ticket_id=ticket_id,
        to_name=body.to_name,
        to_email=body.to_email,
        reason=body.reason,
    )
    cancelled_offer_id = done.cancelled_offer.id if done.cancelled_offer else None
    await audit_ticket(
        session,
        request,
        "ticket.transferred",
        done.old,
        actor_user_id=principal.user_id,
        transfer_id=done.transfer.id,
        from_ticket_id=done.old.id,
        to_ticket_id=done.new.id,
        by="organizer",
        to_email=done.new.holder_email,
        reason=body.reason,
        cancelled_offer_id=cancelled_offer_id,
    )
    await session.refresh(done.transfer)  # created_at comes from the database
    return TicketReassigned(
        **organizer_view(done.transfer).model_dump(),
        code=display_code(done.new.code),
        version=done.new.version,
        cancelled_offer_id=cancelled_offer_id,
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
    found = await transfer_history.organizer_history(
        session, organization_id=organization_id, event_id=event_id, ticket_id=ticket_id
    )
    return ItemList(items=[organizer_view(t) for t in found])
