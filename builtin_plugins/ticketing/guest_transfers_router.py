"""A guest buyer's transfers: offering and withdrawing the tickets of their order.

Public routes authorized by the order's credential (``X-Order-Token``, or a link's
``?token=``; see :mod:`.guest_access`), beside the guest's other routes
(:mod:`.guest_router`). They run the signed-in holder's code
(:mod:`.transfer_commands`) with the order as the giver: only a ticket the order issued
can be offered, never its successor once it changed hands.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response

from builtin_plugins.ticketing import transfer_history
from builtin_plugins.ticketing.guest_access import GuestOrder
from builtin_plugins.ticketing.transfer_commands import make_offer, withdraw_offer
from builtin_plugins.ticketing.transfer_offers import Giver
from builtin_plugins.ticketing.transfer_schemas import MyTransferOut, TransferCreate, TransferOut
from builtin_plugins.ticketing.transfer_views import holder_view
from sdk.http import ItemList, KernelDep, SessionDep, public_or_signed_in

router = APIRouter(
    prefix="/orders/{order_id}",
    tags=["ticket transfers"],
    responses={
        401: {"description": "The order link expired (order-link-expired)"},
        404: {"description": "No such order, ticket or offer, or the credential does not open it"},
    },
)
routers = [router]


@router.post(
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
    return await make_offer(Giver.guest(order), ticket_id, body, request, session)


@router.get(
    "/tickets/{ticket_id}/transfers",
    summary="The offers made of a ticket of my order, oldest first",
    dependencies=[public_or_signed_in()],
)
async def guest_ticket_history(
    ticket_id: uuid.UUID, order: GuestOrder, session: SessionDep
) -> ItemList[TransferOut]:
    found = await transfer_history.given_history(session, Giver.guest(order), ticket_id)
    return ItemList(items=[holder_view(t) for t in found])


@router.delete(
    "/ticket-transfers/{transfer_id}",
    status_code=204,
    summary="Withdraw an offer of a ticket of my order",
    dependencies=[public_or_signed_in()],
)
async def guest_cancel_transfer(
    transfer_id: uuid.UUID, order: GuestOrder, request: Request, kernel: KernelDep
) -> Response:
    return await withdraw_offer(Giver.guest(order), transfer_id, request, kernel)
