"""The recipient's side of a transfer: accepting an offer (the ticket changes hands) or
declining it.

Everything is checked again under the locks (see :mod:`.transfers`): an offer that can no
longer complete lapses, and the caller commits that before refusing.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.ticketing.models import Ticket, TicketStatus, TicketTransfer, TransferStatus
from builtin_plugins.ticketing.transfers import (
    CutoffPassed,
    NotTransferable,
    TransferClosed,
    TransfersDisabled,
    close_pending,
    complete,
    cutoff_passed,
    effective_status,
    lapse,
    lock_offer,
    not_transferable,
    offered_to,
    window,
)
from sdk import Principal
from sdk.clock import utcnow


async def accept(
    session: AsyncSession, principal: Principal, transfer_id: uuid.UUID
) -> tuple[TicketTransfer, Ticket, Ticket]:
    """The recipient accepts: returns (transfer, old ticket, new ticket).

    The offer must still be pending and in time, the ticket still valid (checked in
    meanwhile: the offer lapses), and the policy must still allow it.
    """
    ticket, transfer = await lock_offer(session, transfer_id, offered_to(principal))
    if transfer.status is not TransferStatus.PENDING:
        raise TransferClosed(
            f"The offer is {transfer.status.value}.", transfer_status=transfer.status.value
        )
    now = utcnow()
    if ticket.status is not TicketStatus.VALID:
        raise await lapse(
            session, ticket, transfer, now, code=NotTransferable.code, **not_transferable(ticket)
        )
    if effective_status(transfer, now) is TransferStatus.EXPIRED:
        assert transfer.expires_at is not None
        raise await lapse(
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
        raise await lapse(
            session,
            ticket,
            transfer,
            now,
            code=CutoffPassed.code,
            **cutoff_passed(policy.cutoff_at),
        )
    successor = await complete(
        session,
        ticket,
        transfer,
        holder_user_id=principal.user_id,
        completed_by=principal.user_id,
        now=now,
    )
    return transfer, ticket, successor


async def decline(
    session: AsyncSession, principal: Principal, transfer_id: uuid.UUID
) -> tuple[TicketTransfer, Ticket]:
    """The recipient says no."""
    ticket, transfer = await lock_offer(session, transfer_id, offered_to(principal))
    return await close_pending(session, ticket, transfer, TransferStatus.DECLINED), ticket
