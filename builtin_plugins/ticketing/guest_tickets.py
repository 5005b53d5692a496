"""An order's tickets and documents for its buyer: the answer to ``ticketing_order_tickets``
(the buyer's order view, the confirmation email) and what the guest routes serve.

Paths point at the guest routes (:mod:`.guest_router`) and need the order's credential.
The order's PDF holds the tickets still good for entry (valid or checked in), a page each.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.ticketing import documents, tickets_service
from builtin_plugins.ticketing.guest_access import order_tickets
from builtin_plugins.ticketing.models import Ticket
from builtin_plugins.ticketing.tickets_service import SCANNABLE
from sdk import Kernel, NotFound, OrderAccess, OrderTicket, OrderTickets, RenderedLayout
from sdk.http import API_PREFIX


def order_path(order_id: uuid.UUID) -> str:
    return f"{API_PREFIX}/orders/{order_id}"


def printable(tickets: Sequence[Ticket]) -> list[Ticket]:
    return [ticket for ticket in tickets if ticket.status in SCANNABLE]


async def order_pdf(
    kernel: Kernel, session: AsyncSession, order: OrderAccess, tickets: Sequence[Ticket]
) -> RenderedLayout:
    """Every ticket of the order still good for entry in one PDF; 404 when none is."""
    good = printable(tickets)
    if not good:
        raise NotFound(f"No valid tickets in order {order.order_id}.")
    return await documents.render_pdf(kernel, session, good, order_id=order.order_id)


async def answer(
    kernel: Kernel, session: AsyncSession, order: OrderAccess, *, with_pdf: bool
) -> OrderTickets:
    tickets = await order_tickets(session, order)
    base = order_path(order.order_id)
    entries = []
    for view in await tickets_service.views(session, kernel.encryptor, tickets):
        path = f"{base}/tickets/{view.id}"
        scannable = view.qr_payload is not None
        entries.append(
            OrderTicket(
                ticket_id=view.id,
                code=view.code,
                status=view.status.value,
                holder_name=view.holder_name,
                holder_email=view.holder_email,
                ticket_type_name=view.ticket_type.name,
                starts_at=view.date.starts_at,
                ends_at=view.date.ends_at,
                qr_payload=view.qr_payload,
                pdf_path=f"{path}/pdf",
                qr_png_path=f"{path}/qr.png" if scannable else None,
                qr_svg_path=f"{path}/qr.svg" if scannable else None,
            )
        )
    has_pdf = bool(printable(tickets))
    return OrderTickets(
        order_id=order.order_id,
        tickets=tuple(entries),
        pdf_path=f"{base}/tickets.pdf" if has_pdf else None,
        pdf=await order_pdf(kernel, session, order, tickets) if with_pdf and has_pdf else None,
    )
