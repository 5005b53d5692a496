"""Request and response bodies of ticket transfers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from builtin_plugins.ticketing.models import TransferStatus

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Email = Annotated[EmailStr, AfterValidator(lambda email: email.strip().lower())]
Message = Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TransferCreate(_Body):
    """A holder offers a ticket; it changes hands once the recipient accepts."""

    to_name: Name
    to_email: Email = Field(description="The recipient accepts after signing in with this email")
    message: Message = ""


class OrganizerTransferCreate(_Body):
    """An organizer reassigns a ticket at once: no acceptance, no transfer policy."""

    to_name: Name
    to_email: Email
    reason: Reason


class TransferTicketRef(BaseModel):
    """What the offered ticket is for (never its code: that is the holder's)."""

    id: uuid.UUID
    event_id: uuid.UUID
    event_title: str
    ticket_type_id: uuid.UUID
    ticket_type_name: str
    date_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime


class TransferOut(BaseModel):
    id: uuid.UUID
    ticket_id: uuid.UUID = Field(description="The ticket given away")
    new_ticket_id: uuid.UUID | None = Field(description="The recipient's ticket, once completed")
    status: TransferStatus = Field(description="expired as soon as expires_at has passed")
    by_organizer: bool = Field(description="Reassigned by the organizer, not offered by the holder")
    from_name: str
    from_email: str
    to_name: str
    to_email: str
    message: str
    created_at: datetime
    expires_at: datetime | None
    closed_at: datetime | None


class MyTransferOut(TransferOut):
    direction: Literal["incoming", "outgoing"]
    ticket: TransferTicketRef


class OrganizerTransferOut(TransferOut):
    initiated_by_user_id: uuid.UUID | None
    completed_by_user_id: uuid.UUID | None


class TransferAccepted(BaseModel):
    """The recipient's new ticket; the old one's QR code stopped working."""

    transfer_id: uuid.UUID
    ticket_id: uuid.UUID
    code: str
    version: int


class TicketReassigned(OrganizerTransferOut):
    """The completed transfer the reassignment made; ``new_ticket_id`` is the new holder's
    ticket, ``code`` and ``version`` are that ticket's."""

    code: str = Field(description="The new ticket's code")
    version: int = Field(description="The new ticket's version")
    cancelled_offer_id: uuid.UUID | None = Field(
        description="The holder's pending offer this reassignment withdrew, if any"
    )
