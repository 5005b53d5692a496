"""Tickets, the keys that sign their QR codes, check-in lists and scans, transfers, settings.

A ticket is one admission for one holder. Its status moves ``valid`` → ``checked_in`` /
``void`` / ``transferred``; a transfer closes the old row (``transferred``) and issues a new
one to the new holder, so each row is one holder's ticket with its own code and history.

Each ticket carries a ``version``: the QR payload signs it, and bumping it (a new QR code,
a transfer, a void) revokes every payload printed before.
"""

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import Uuid

from sdk.db import Base, TenantScoped, Timestamped, UUIDPrimaryKey, value_enum


class TicketStatus(StrEnum):
    VALID = "valid"
    CHECKED_IN = "checked_in"
    VOID = "void"
    TRANSFERRED = "transferred"


class IssueKind(StrEnum):
    ORDER = "order"  # a paid order line
    COMPLIMENTARY = "complimentary"  # free tickets an organizer gives away
    BOX_OFFICE = "box_office"  # sold at the venue, paid outside the platform


class TransferStatus(StrEnum):
    PENDING = "pending"  # offered, waiting for the new holder to accept
    COMPLETED = "completed"
    CANCELLED = "cancelled"  # withdrawn by the holder or organizer
    DECLINED = "declined"
    EXPIRED = "expired"  # the cut-off passed, or the ticket changed before acceptance


class ScanOutcome(StrEnum):
    ADMITTED = "admitted"
    ALREADY_CHECKED_IN = "already_checked_in"
    VOID = "void"
    TRANSFERRED = "transferred"
    REVOKED = "revoked"  # an older version of the QR code
    WRONG_EVENT = "wrong_event"
    NOT_YET_VALID = "not_yet_valid"
    EXPIRED = "expired"  # the list's admission window has closed
    UNKNOWN = "unknown"


class TicketSigningKey(UUIDPrimaryKey, TenantScoped, Base):
    """An organization's Ed25519 key pair for QR payloads; the private half is encrypted.

    The key without ``superseded_at`` signs new payloads; superseded keys still verify the
    payloads they signed until ``retired_at``, when they stop being published.
    """

    __tablename__ = "ticket_signing_key"
    __table_args__ = (
        Index(
            "uq_ticket_signing_key_signing",
            "organization_id",
            unique=True,
            postgresql_where=text("superseded_at IS NULL"),
        ),
    )

    kid: Mapped[str] = mapped_column(String(16), unique=True)  # 8 random bytes, hex
    public_key: Mapped[bytes] = mapped_column(LargeBinary)  # raw 32 bytes
    private_key: Mapped[bytes] = mapped_column(LargeBinary)  # encrypted raw 32 bytes
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    superseded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class TicketIssue(UUIDPrimaryKey, TenantScoped, Base):
    """One issuance: the tickets of an order line, or an organizer's batch.

    ``order_line_id`` is unique, so a paid line issues its tickets exactly once however
    often payment confirmation arrives. ``sale_id`` is the inventory sale (a converted
    hold) the tickets draw on.
    """

    __tablename__ = "ticket_issue"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)

    event_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("event.id", ondelete="RESTRICT"), index=True
    )
    event_date_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("event_date.id", ondelete="RESTRICT")
    )
    ticket_type_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("ticket_type.id", ondelete="RESTRICT")
    )
    kind: Mapped[IssueKind] = mapped_column(value_enum(IssueKind, "ticket_issue_kind"))
    quantity: Mapped[int] = mapped_column(Integer)
    order_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    order_line_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, unique=True)
    sale_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("inventory_hold.id", ondelete="RESTRICT")
    )
    issued_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    note: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Ticket(UUIDPrimaryKey, TenantScoped, Timestamped, Base):
    __tablename__ = "ticket"
    __table_args__ = (
        CheckConstraint("version >= 1", name="version_positive"),
        # A transfer's new ticket takes the old one's place in its issue.
        Index(
            "uq_ticket_issue_position",
            "issue_id",
            "position",
            unique=True,
            postgresql_where=text("transferred_from_id IS NULL"),
        ),
        Index("ix_ticket_event_status", "event_id", "status", "ticket_type_id"),
        Index("ix_ticket_holder_email", func.lower(text("holder_email"))),
    )

    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("event.id", ondelete="RESTRICT"))
    event_date_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("event_date.id", ondelete="RESTRICT")
    )
    ticket_type_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("ticket_type.id", ondelete="RESTRICT")
    )
    issue_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("ticket_issue.id", ondelete="RESTRICT"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)  # 1..quantity within the issue
    order_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)  # typed in when a QR won't scan
    status: Mapped[TicketStatus] = mapped_column(
        value_enum(TicketStatus, "ticket_status"), default=TicketStatus.VALID
    )
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    holder_name: Mapped[str] = mapped_column(String(200))
    holder_email: Mapped[str] = mapped_column(String(320))
    holder_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), index=True
    )
    checked_in_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    checkin_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)  # the scan that admitted it
    voided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    void_reason: Mapped[str | None] = mapped_column(String(500))
    transferred_from_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("ticket.id", ondelete="RESTRICT"), index=True
    )
    transferred_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CheckinList(UUIDPrimaryKey, TenantScoped, Timestamped, Base):
    """Which tickets a door admits: all of an event's, some ticket types, one date, and
    optionally only within a time window."""

    __tablename__ = "checkin_list"
    __table_args__ = (
        UniqueConstraint("event_id", "name"),
        CheckConstraint(
            "admits_from IS NULL OR admits_until IS NULL OR admits_from < admits_until",
            name="admission_window",
        ),
    )

    event_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("event.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(120))
    ticket_type_ids: Mapped[list[uuid.UUID]] = mapped_column(
        ARRAY(Uuid), default=list, server_default="{}"
    )  # empty: every ticket type
    event_date_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("event_date.id", ondelete="CASCADE")
    )
    admits_from: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    admits_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class TicketCheckin(UUIDPrimaryKey, TenantScoped, Base):
    """One scan that admitted a ticket (online), or any scan uploaded by an offline device.

    ``accepted`` marks the scan that counts; offline scans that lost to an earlier one
    stay here as reported conflicts. ``(organization_id, device_id, device_scan_id)``
    makes uploads idempotent.
    """

    __tablename__ = "ticket_checkin"
    __table_args__ = (
        UniqueConstraint("organization_id", "device_id", "device_scan_id"),
        Index("ix_ticket_checkin_ticket", "ticket_id", "scanned_at"),
    )

    event_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("event.id", ondelete="CASCADE"), index=True
    )
    ticket_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"))
    list_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("checkin_list.id", ondelete="SET NULL"), index=True
    )
    ticket_version: Mapped[int] = mapped_column(Integer)
    gate: Mapped[str | None] = mapped_column(String(100))
    device_id: Mapped[str | None] = mapped_column(String(100))
    device_scan_id: Mapped[str | None] = mapped_column(String(100))
    scanned_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    scanned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    recorded_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    offline: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    outcome: Mapped[ScanOutcome] = mapped_column(value_enum(ScanOutcome, "ticket_scan_outcome"))
    accepted: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    undone_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    undone_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )


class TicketTransfer(UUIDPrimaryKey, TenantScoped, Base):
    """A ticket offered to someone else; completing it issues the new holder's ticket."""

    __tablename__ = "ticket_transfer"
    __table_args__ = (
        # One open offer per ticket at a time.
        Index(
            "uq_ticket_transfer_pending",
            "ticket_id",
            unique=True,
            postgresql_where=text("status = 'pending'"),
        ),
        Index("ix_ticket_transfer_to_email", func.lower(text("to_email")), "status"),
    )

    ticket_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("ticket.id", ondelete="CASCADE"), index=True
    )
    new_ticket_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("ticket.id", ondelete="SET NULL")
    )
    status: Mapped[TransferStatus] = mapped_column(
        value_enum(TransferStatus, "ticket_transfer_status"), default=TransferStatus.PENDING
    )
    from_name: Mapped[str] = mapped_column(String(200))
    from_email: Mapped[str] = mapped_column(String(320))
    to_name: Mapped[str] = mapped_column(String(200))
    to_email: Mapped[str] = mapped_column(String(320))
    message: Mapped[str] = mapped_column(Text, default="", server_default="")
    initiated_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    completed_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class TicketSettings(Timestamped, Base):
    """An organization's ticket branding and transfer policy (one row, defaults if none)."""

    __tablename__ = "ticket_settings"
    __table_args__ = (CheckConstraint("transfer_cutoff_hours >= 0", name="cutoff_not_negative"),)

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), primary_key=True
    )
    primary_color: Mapped[str] = mapped_column(String(7), default="#1F2937")
    text_color: Mapped[str] = mapped_column(String(7), default="#FFFFFF")
    logo_key: Mapped[str | None] = mapped_column(String(300))
    logo_content_type: Mapped[str | None] = mapped_column(String(50))
    footer_text: Mapped[str] = mapped_column(String(500), default="", server_default="")
    transfers_allowed: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    transfer_cutoff_hours: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class EventTicketSettings(TenantScoped, Base):
    """An event's own transfer policy; ``None`` fields follow the organization's."""

    __tablename__ = "event_ticket_settings"
    __table_args__ = (
        CheckConstraint(
            "transfer_cutoff_hours IS NULL OR transfer_cutoff_hours >= 0",
            name="cutoff_not_negative",
        ),
    )

    event_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("event.id", ondelete="CASCADE"), primary_key=True
    )
    transfers_allowed: Mapped[bool | None] = mapped_column(Boolean)
    transfer_cutoff_hours: Mapped[int | None] = mapped_column(Integer)
