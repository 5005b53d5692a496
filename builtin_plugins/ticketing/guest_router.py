"""A guest buyer's tickets, reached through the order instead of an account.

Every route is public and authorized by the order's credential (``X-Order-Token``, or a
link's ``?token=``; see :mod:`.guest_access`): the order's tickets, one ticket with its
QR payload, its QR image, its PDF, and the whole order's PDF. A ticket of another order
is 404 whatever the credential. Transfers of a guest's ticket have a module of their own
(:mod:`.guest_transfers_router`).
"""

from __future__ import annotations

import uuid
from typing import Literal

from fastapi import APIRouter, Response

from builtin_plugins.ticketing import documents, guest_tickets, tickets_service
from builtin_plugins.ticketing.guest_access import GuestOrder, order_ticket, order_tickets
from builtin_plugins.ticketing.ticket_schemas import TicketOut
from sdk.http import ItemList, KernelDep, SessionDep, public_or_signed_in

REFUSALS = {
    401: {"description": "The order link expired (order-link-expired)"},
    404: {"description": "No such order or ticket, or the credential does not open it"},
}

router = APIRouter(prefix="/orders/{order_id}", tags=["guest tickets"], responses=REFUSALS)
routers = [router]


@router.get(
    "/tickets",
    summary="The order's tickets (X-Order-Token or ?token=), a ticket given away as transferred",
    dependencies=[public_or_signed_in()],
)
async def guest_tickets_list(
    order: GuestOrder, kernel: KernelDep, session: SessionDep
) -> ItemList[TicketOut]:
    found = await order_tickets(session, order)
    return ItemList(items=await tickets_service.views(session, kernel.encryptor, found))


@router.get(
    "/tickets/{ticket_id}",
    summary="One ticket of the order, with its QR payload",
    dependencies=[public_or_signed_in()],
)
async def guest_ticket(
    ticket_id: uuid.UUID, order: GuestOrder, kernel: KernelDep, session: SessionDep
) -> TicketOut:
    ticket = await order_ticket(session, order, ticket_id)
    (view,) = await tickets_service.views(session, kernel.encryptor, [ticket])
    return view


@router.get(
    "/tickets/{ticket_id}/qr.{image_format}",
    summary="A ticket's QR code as PNG or SVG",
    dependencies=[public_or_signed_in()],
    response_class=Response,
    responses=documents.QR_RESPONSES,
)
async def guest_qr_code(
    ticket_id: uuid.UUID,
    image_format: Literal["png", "svg"],
    order: GuestOrder,
    kernel: KernelDep,
    session: SessionDep,
) -> Response:
    ticket = await order_ticket(session, order, ticket_id)
    image, content_type = await documents.qr_image(kernel, session, ticket, image_format)
    return Response(image, media_type=content_type, headers={"Cache-Control": "private, no-store"})


@router.get(
    "/tickets/{ticket_id}/pdf",
    summary="A printable ticket of the order (PDF)",
    dependencies=[public_or_signed_in()],
    response_class=Response,
    responses=documents.PDF_RESPONSES,
)
async def guest_ticket_pdf(
    ticket_id: uuid.UUID, order: GuestOrder, kernel: KernelDep, session: SessionDep
) -> Response:
    ticket = await order_ticket(session, order, ticket_id)
    rendered = await documents.render_pdf(kernel, session, [ticket])
    return documents.download(rendered)


@router.get(
    "/tickets.pdf",
    summary="Every valid ticket of the order in one PDF, a page each",
    dependencies=[public_or_signed_in()],
    response_class=Response,
    responses=documents.PDF_RESPONSES,
)
async def guest_order_pdf(order: GuestOrder, kernel: KernelDep, session: SessionDep) -> Response:
    tickets = await order_tickets(session, order)
    return documents.download(await guest_tickets.order_pdf(kernel, session, order, tickets))
