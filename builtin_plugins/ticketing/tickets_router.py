"""Organizers' tickets of an event: issue (complimentary, box office), list, void, new QR
code, and the QR image and PDF of any ticket.

Everything sits under ``/organizations/{organization_id}/events/{event_id}/tickets`` and
needs ``tickets:manage`` (holders' names and emails are personal data). Issuing accepts an
``Idempotency-Key``: a retried request returns the tickets of the first, never a second
batch.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response

from builtin_plugins.events import inventory
from builtin_plugins.ticketing import documents, tickets_service
from builtin_plugins.ticketing.issuance import Holder, issue_tickets
from builtin_plugins.ticketing.models import TicketStatus
from builtin_plugins.ticketing.ticket_schemas import (
    IssueOut,
    TicketOut,
    TicketsIssue,
    TicketVoid,
)
from sdk import Principal, audit
from sdk.http import KernelDep, Page, SessionDep, requires
from sdk.idempotency import (
    IdempotencyKeyHeader,
    claim,
    remember,
    replay_response,
    request_fingerprint,
)

Manager = Annotated[Principal, requires("tickets:manage")]

router = APIRouter(
    prefix="/organizations/{organization_id}/events/{event_id}/tickets", tags=["tickets"]
)
routers = [router]


@router.post(
    "",
    summary="Issue complimentary or box-office tickets (they draw on inventory: 409 sold-out)",
    status_code=201,
    responses={409: {"description": "Sold out"}},
)
async def issue(
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    body: TicketsIssue,
    principal: Manager,
    request: Request,
    kernel: KernelDep,
    session: SessionDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> IssueOut:
    scope = f"{organization_id}:tickets.issue"
    if idempotency_key:
        fingerprint = request_fingerprint("POST", request.url.path, body)
        stored = await claim(session, scope=scope, key=idempotency_key, fingerprint=fingerprint)
        if stored is not None:
            return replay_response(stored)  # type: ignore[return-value]
    issued = await issue_tickets(
        session,
        organization_id=organization_id,
        event_id=event_id,
        ticket_type_id=body.ticket_type_id,
        event_date_id=body.date_id,
        holders=[Holder(name=h.name, email=str(h.email)) for h in body.holders],
        kind=body.kind,
        issued_by_user_id=principal.user_id,
        note=body.note,
    )
    await audit.record(
        session,
        action="tickets.issued",
        actor_user_id=principal.user_id,
        organization_id=organization_id,
        request=request,
        target_type="ticket_issue",
        target_id=issued.issue.id,
        details={
            "event_id": event_id,
            "ticket_type_id": body.ticket_type_id,
            "kind": body.kind.value,
            "quantity": len(issued.tickets),
        },
    )
    result = IssueOut(
        id=issued.issue.id,
        kind=issued.issue.kind,
        tickets=await tickets_service.views(session, kernel.encryptor, issued.tickets),
    )
    if idempotency_key:
        await remember(session, scope=scope, key=idempotency_key, result_status=201, body=result)
    await _announce(kernel, event_id, issued.issue.event_date_id)
    return result


async def _announce(kernel, event_id: uuid.UUID, event_date_id: uuid.UUID | None) -> None:
    """Availability changes once the request's transaction commits; the announcement reads
    it a moment later (coalesced), so asking now is early enough."""
    await inventory.announce_availability(kernel, event_id=event_id, event_date_id=event_date_id)


@router.get("", summary="The event's tickets, newest first, with filters and a cursor")
async def list_tickets(
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    principal: Manager,
    kernel: KernelDep,
    session: SessionDep,
    status: TicketStatus | None = None,
    ticket_type_id: uuid.UUID | None = None,
    date_id: uuid.UUID | None = None,
    order_id: uuid.UUID | None = None,
    search: Annotated[str | None, Query(min_length=2, max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Page[TicketOut]:
    found = await tickets_service.list_tickets(
        session,
        organization_id=organization_id,
        event_id=event_id,
        limit=limit,
        cursor=cursor,
        status=status,
        ticket_type_id=ticket_type_id,
        date_id=date_id,
        order_id=order_id,
        search=search,
    )
    return found.page(await tickets_service.views(session, kernel.encryptor, found.rows))


@router.get("/{ticket_id}", summary="One ticket")
async def get_ticket(
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    ticket_id: uuid.UUID,
    principal: Manager,
    kernel: KernelDep,
    session: SessionDep,
) -> TicketOut:
    ticket = await tickets_service.get_ticket(
        session, organization_id=organization_id, event_id=event_id, ticket_id=ticket_id
    )
    (view,) = await tickets_service.views(session, kernel.encryptor, [ticket])
    return view


@router.post(
    "/{ticket_id}/void",
    summary="Void a ticket: its codes stop working at once; optionally back to stock",
)
async def void(
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    ticket_id: uuid.UUID,
    body: TicketVoid,
    principal: Manager,
    request: Request,
    kernel: KernelDep,
    session: SessionDep,
) -> TicketOut:
    ticket, released = await tickets_service.void_ticket(
        session,
        organization_id=organization_id,
        event_id=event_id,
        ticket_id=ticket_id,
        reason=body.reason,
        release_inventory=body.release_inventory,
    )
    await audit.record(
        session,
        action="ticket.voided",
        actor_user_id=principal.user_id,
        organization_id=organization_id,
        request=request,
        target_type="ticket",
        target_id=ticket.id,
        details={"reason": body.reason, "inventory_released": released},
    )
    (view,) = await tickets_service.views(session, kernel.encryptor, [ticket])
    if released:
        await _announce(kernel, event_id, ticket.event_date_id)
    return view


@router.post(
    "/{ticket_id}/new-qr-code",
    summary="Replace a valid ticket's QR code; every earlier one is refused at the door",
)
async def new_qr_code(
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    ticket_id: uuid.UUID,
    principal: Manager,
    request: Request,
    kernel: KernelDep,
    session: SessionDep,
) -> TicketOut:
    ticket = await tickets_service.new_qr_code(
        session, organization_id=organization_id, event_id=event_id, ticket_id=ticket_id
    )
    await audit.record(
        session,
        action="ticket.qr_code_replaced",
        actor_user_id=principal.user_id,
        organization_id=organization_id,
        request=request,
        target_type="ticket",
        target_id=ticket.id,
        details={"version": ticket.version},
    )
    (view,) = await tickets_service.views(session, kernel.encryptor, [ticket])
    return view


@router.get(
    "/{ticket_id}/qr.{image_format}",
    summary="The ticket's QR code as PNG or SVG",
    response_class=Response,
    responses=documents.QR_RESPONSES,
)
async def qr_code(
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    ticket_id: uuid.UUID,
    image_format: Literal["png", "svg"],
    principal: Manager,
    kernel: KernelDep,
    session: SessionDep,
) -> Response:
    ticket = await tickets_service.get_ticket(
        session, organization_id=organization_id, event_id=event_id, ticket_id=ticket_id
    )
    image, content_type = await documents.qr_image(kernel, session, ticket, image_format)
    return Response(image, media_type=content_type, headers={"Cache-Control": "private, no-store"})


@router.get(
    "/{ticket_id}/pdf",
    summary="The printable ticket (PDF, rendered through the layout hook)",
    response_class=Response,
    responses=documents.PDF_RESPONSES,
)
async def ticket_pdf(
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    ticket_id: uuid.UUID,
    principal: Manager,
    kernel: KernelDep,
    session: SessionDep,
) -> Response:
    ticket = await tickets_service.get_ticket(
        session, organization_id=organization_id, event_id=event_id, ticket_id=ticket_id
    )
    return documents.download(await documents.render_pdf(kernel, session, [ticket]))
