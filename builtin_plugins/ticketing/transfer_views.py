"""Transfers as the API shows them: to holders and recipients, and to organizers.

An organizer's reassignment reason is the organization's record, not a note to the
holders: holders see an empty message there.
"""

from __future__ import annotations

from typing import Any

from builtin_plugins.ticketing.models import TicketTransfer
from builtin_plugins.ticketing.transfer_history import Listed
from builtin_plugins.ticketing.transfer_schemas import (
    MyTransferOut,
    OrganizerTransferOut,
    TransferOut,
    TransferTicketRef,
)
from builtin_plugins.ticketing.transfers import by_organizer, effective_status


def _fields(transfer: TicketTransfer, *, for_holder: bool) -> dict[str, Any]:
    organizer = by_organizer(transfer)
    return {
        "id": transfer.id,
        "ticket_id": transfer.ticket_id,
        "new_ticket_id": transfer.new_ticket_id,
        "status": effective_status(transfer),
        "by_organizer": organizer,
        "from_name": transfer.from_name,
        "from_email": transfer.from_email,
        "to_name": transfer.to_name,
        "to_email": transfer.to_email,
        "message": "" if organizer and for_holder else transfer.message,
        "created_at": transfer.created_at,
        "expires_at": transfer.expires_at,
        "closed_at": transfer.closed_at,
    }


def holder_view(transfer: TicketTransfer) -> TransferOut:
    return TransferOut(**_fields(transfer, for_holder=True))


def organizer_view(transfer: TicketTransfer) -> OrganizerTransferOut:
    return OrganizerTransferOut(
        **_fields(transfer, for_holder=False),
        initiated_by_user_id=transfer.initiated_by_user_id,
        completed_by_user_id=transfer.completed_by_user_id,
    )


def my_view(listed: Listed) -> MyTransferOut:
    """A transfer in a person's list: which way it goes, and what the ticket is for."""
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
