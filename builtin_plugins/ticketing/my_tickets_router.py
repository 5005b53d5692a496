"""A signed-in holder's tickets: list, one ticket with its QR payload, the QR image, the
ticket PDF and an order's PDF. Someone else's ticket is not found (404)."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Response

from builtin_plugins.ticketing import documents, tickets_service
from builtin_plugins.ticketing.ticket_schemas import TicketOut
from sdk import NotFound, Principal
from sdk.http import ItemList, KernelDep, SessionDep, signed_in

Holder = Annotated[Principal, signed_in()]

router = APIRouter(prefix="/me", tags=["my tickets"])
routers = [router]


@router.get("/tickets", summary="My tickets, soonest first (void and transferred on request)")
async def my_tickets(
    principal: Holder,
    kernel: KernelDep,
    session: SessionDep,
    event_id: uuid.UUID | None = None,
    include_closed: bool = False,
) -> ItemList[TicketOut]:
    found = await tickets_service.my_tickets(
        session, principal, event_id=event_id, include_closed=include_closed
    )
    return ItemList(items=await tickets_service.views(session, kernel.encryptor, found))


@router.get("/tickets/{ticket_id}", summary="One of my tickets, with its QR payload")
async def my_ticket(
    ticket_id: uuid.UUID, principal: Holder, kernel: KernelDep, session: SessionDep
) -> TicketOut:
    ticket = await tickets_service.my_ticket(session, principal, ticket_id)
    (view,) = await tickets_service.views(session, kernel.encryptor, [ticket])
    return view


@router.get(
    "/tickets/{ticket_id}/qr.{image_format}",
    summary="My ticket's QR code as PNG or SVG",
    response_class=Response,
    responses=documents.QR_RESPONSES,
)
async def my_qr_code(
    ticket_id: uuid.UUID,
    image_format: Literal["png", "svg"],
    principal: Holder,
    kernel: KernelDep,
    session: SessionDep,
) -> Response:
    ticket = await tickets_service.my_ticket(session, principal, ticket_id)
    image, content_type = await documents.qr_image(kernel, session, ticket, image_format)
    return Response(image, media_type=content_type, headers={"Cache-Control": "private, no-store"})


@router.get(
    "/tickets/{ticket_id}/pdf",
    summary="My printable ticket (PDF)",
    response_class=Response,
    responses=documents.PDF_RESPONSES,
)
async def my_ticket_pdf(
    ticket_id: uuid.UUID, principal: Holder, kernel: KernelDep, session: SessionDep
) -> Response:
    ticket = await tickets_service.my_ticket(session, principal, ticket_id)
    return documents.download(await documents.render_pdf(kernel, session, [ticket]))


@router.get(
    "/orders/{order_id}/tickets.pdf",
    summary="Every ticket of my order in one PDF, a page each",
    response_class=Response,
    responses=documents.PDF_RESPONSES,
)
async def my_order_pdf(
    order_id: uuid.UUID, principal: Holder, kernel: KernelDep, session: SessionDep
) -> Response:
    found = await tickets_service.my_tickets(session, principal, order_id=order_id)
    if not found:
        raise NotFound(f"No tickets of order {order_id}.")
    return documents.download(await documents.render_pdf(kernel, session, found, order_id=order_id))
