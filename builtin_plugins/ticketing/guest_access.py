"""Guests reach an order's tickets with the order's credential instead of an account.

The credential is the ``X-Order-Token`` header (the access token checkout answered, or a
link token) or a link's ``?token=``; a signed-in buyer needs neither. What it opens is
the orders plugin's answer to ``ticketing_order_access``: this plugin never reads orders.
No answer is 404, exactly as if the order did not exist; an expired link is 401.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.events import EventDate
from builtin_plugins.ticketing.models import Ticket
from builtin_plugins.ticketing.tickets_service import one_ticket
from sdk import NotFound, OrderAccess
from sdk.http import KernelDep, OrderCredential, SessionDep, authenticate


async def guest_order(
    order_id: uuid.UUID,
    request: Request,
    kernel: KernelDep,
    session: SessionDep,
    credential: OrderCredential,
) -> OrderAccess:
    """The order the request's credential opens; 404 when it opens none."""
    opened = await kernel.hooks.call(
        "ticketing_order_access",
        organization_id=None,  # not known before the order is opened
        order_id=order_id,
        token=credential,
        principal=await authenticate(request),
        session=session,
    )
    if opened is None:
        raise NotFound(f"No order {order_id}.")
    return opened


GuestOrder = Annotated[OrderAccess, Depends(guest_order)]


def of_order(order: OrderAccess) -> ColumnElement[bool]:
    """The tickets the order issued. A ticket given away (a transfer, a reassignment)
    closes and its successor belongs to the new holder: the order's credential reaches the
    closed ticket, never the successor."""
    return (
        (Ticket.order_id == order.order_id)
        & (Ticket.organization_id == order.organization_id)
        & Ticket.transferred_from_id.is_(None)
    )


async def order_tickets(session: AsyncSession, order: OrderAccess) -> list[Ticket]:
    """The order's tickets, soonest date first, each line's in issue order."""
    return list(
        await session.scalars(
            select(Ticket)
            .join(EventDate, EventDate.id == Ticket.event_date_id)
            .where(of_order(order))
            .order_by(EventDate.starts_at, Ticket.created_at, Ticket.issue_id, Ticket.position)
        )
    )


async def order_ticket(session: AsyncSession, order: OrderAccess, ticket_id: uuid.UUID) -> Ticket:
    """One of the order's tickets; another order's (or a successor) is 404."""
    return await one_ticket(
        session,
        ticket_id,
        of_order(order),
        missing=f"No ticket {ticket_id} in order {order.order_id}.",
    )
