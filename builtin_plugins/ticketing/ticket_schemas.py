"""Request and response bodies of tickets, their issuance and the signing keys."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from builtin_plugins.ticketing.models import IssueKind, TicketStatus

HolderName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
MAX_HOLDERS = 100


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HolderIn(_Body):
    name: HolderName
    email: EmailStr


class TicketsIssue(_Body):
    ticket_type_id: uuid.UUID
    date_id: uuid.UUID | None = Field(None, description="Required when the event has several")
    kind: Literal[IssueKind.COMPLIMENTARY, IssueKind.BOX_OFFICE] = IssueKind.COMPLIMENTARY
    holders: list[HolderIn] = Field(min_length=1, max_length=MAX_HOLDERS)
    note: Annotated[str, StringConstraints(max_length=500)] = ""


class TicketVoid(_Body):
    reason: Reason
    release_inventory: bool = Field(
        False, description="Give the ticket's unit back to stock so it can be sold again"
    )


class EventRef(BaseModel):
    id: uuid.UUID
    title: str
    timezone: str
    venue_name: str | None


class DateRef(BaseModel):
    id: uuid.UUID
    starts_at: datetime
    ends_at: datetime


class TicketTypeRef(BaseModel):
    id: uuid.UUID
    name: str


class TicketOut(BaseModel):
    id: uuid.UUID
    code: str = Field(description="Typed at the door when the QR code cannot be scanned")
    status: TicketStatus
    version: int
    holder_name: str
    holder_email: str
    event: EventRef
    date: DateRef
    ticket_type: TicketTypeRef
    order_id: uuid.UUID | None
    issued_at: datetime
    checked_in_at: datetime | None
    voided_at: datetime | None
    void_reason: str | None
    transferred_from_id: uuid.UUID | None
    transferred_at: datetime | None
    qr_payload: str | None = Field(
        description="The signed payload the QR code carries; null once void or transferred"
    )


class IssueOut(BaseModel):
    """One issue: the batch of tickets a request issued (a retry answers the same)."""

    id: uuid.UUID
    kind: IssueKind
    tickets: list[TicketOut]


class PublicKey(BaseModel):
    """A JSON Web Key (RFC 8037)."""

    kty: str
    crv: str
    x: str
    kid: str
    use: str
    alg: str


class PublicKeySet(BaseModel):
    keys: list[PublicKey]


class SigningKeyOut(BaseModel):
    id: str = Field(description="The key id (`kid`) its signatures and its JWK name")
    created_at: datetime
    superseded_at: datetime | None
    retired_at: datetime | None
    signing: bool
    jwk: PublicKey
