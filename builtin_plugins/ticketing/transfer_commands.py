"""Transfer changes as the routes run them: audited in their transaction, and with a
lapsed offer's expiry committed before its 409 is answered.

A signed-in holder (:mod:`.transfers_router`) and a guest buyer with the order's
credential (:mod:`.guest_transfers_router`) offer and withdraw through the same
functions here; only the :class:`~.transfer_offers.Giver` differs, and the audit log
names the user, or the order for a guest.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

from fastapi import Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.ticketing import transfer_history, transfer_offers
from builtin_plugins.ticketing.models import Ticket, TicketTransfer
from builtin_plugins.ticketing.transfer_offers import Giver
from builtin_plugins.ticketing.transfer_schemas import MyTransferOut, TransferCreate
from builtin_plugins.ticketing.transfer_views import my_view
from builtin_plugins.ticketing.transfers import OfferLapsed
from sdk import Kernel, audit

CloseOffer = Callable[[AsyncSession], Awaitable[tuple[TicketTransfer, Ticket]]]


@asynccontextmanager
async def committing_lapses(kernel: Kernel) -> AsyncIterator[AsyncSession]:
    """A transaction that also commits when the offer lapsed, then re-raises the 409 (a
    request-scoped session would roll the expiry back with the error)."""
    lapsed = None
    async with kernel.database.transaction() as session:
        try:
            yield session
        except OfferLapsed as exc:
            lapsed = exc
    if lapsed is not None:
        raise lapsed


async def audit_ticket(
    session: AsyncSession,
    request: Request,
    action: str,
    ticket: Ticket,
    *,
    actor_user_id: uuid.UUID | None,
    **details: Any,
) -> None:
    """One audit entry about ``ticket``, in the change's transaction."""
    await audit.record(
        session,
        action=action,
        actor_user_id=actor_user_id,
        organization_id=ticket.organization_id,
        request=request,
        target_type="ticket",
        target_id=ticket.id,
        details=details,
    )


def _named(giver: Giver) -> dict[str, Any]:
    """How the audit names a giver besides the actor: a guest by their order."""
    return {"order_id": giver.order_id} if giver.order_id is not None else {}


async def make_offer(
    giver: Giver,
    ticket_id: uuid.UUID,
    body: TransferCreate,
    request: Request,
    session: AsyncSession,
) -> MyTransferOut:
    """``giver`` offers one of their tickets; the answer is the offer as they list it."""
    transfer, ticket = await transfer_offers.offer(
        session,
        giver,
        ticket_id,
        to_name=body.to_name,
        to_email=body.to_email,
        message=body.message,
    )
    await audit_ticket(
        session,
        request,
        "ticket.transfer_offered",
        ticket,
        actor_user_id=giver.user_id,
        transfer_id=transfer.id,
        to_email=transfer.to_email,
        **_named(giver),
    )
    await session.refresh(transfer)  # created_at comes from the database
    return my_view(await transfer_history.describe(session, transfer, ticket, incoming=False))


async def close_offer(
    kernel: Kernel,
    request: Request,
    close: CloseOffer,
    *,
    action: str,
    actor_user_id: uuid.UUID | None,
    **details: Any,
) -> Response:
    """Decline or withdraw an offer (``close``), audited, in a lapse-committing
    transaction; 204."""
    async with committing_lapses(kernel) as session:
        transfer, ticket = await close(session)
        await audit_ticket(
            session,
            request,
            action,
            ticket,
            actor_user_id=actor_user_id,
            transfer_id=transfer.id,
            **details,
        )
    return Response(status_code=204)


async def withdraw_offer(
    giver: Giver, transfer_id: uuid.UUID, request: Request, kernel: Kernel
) -> Response:
    """``giver`` withdraws an offer of one of their tickets."""
    return await close_offer(
        kernel,
        request,
        partial(transfer_offers.withdraw, giver=giver, transfer_id=transfer_id),
        action="ticket.transfer_cancelled",
        actor_user_id=giver.user_id,
        **_named(giver),
    )
