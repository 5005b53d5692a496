"""Events and ticket types. Money is minor units plus currency; times are UTC."""

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    Enum,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from kernel.db import Base, TenantScoped, Timestamped, UUIDPrimaryKey


class EventStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class Event(UUIDPrimaryKey, TenantScoped, Timestamped, Base):
    __tablename__ = "event"
    __table_args__ = (
        UniqueConstraint("organization_id", "slug"),
        CheckConstraint("starts_at < ends_at", name="starts_before_ends"),
    )

    slug: Mapped[str] = mapped_column(String(120))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    timezone: Mapped[str] = mapped_column(String(64))
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[EventStatus] = mapped_column(
        Enum(EventStatus, name="event_status", values_callable=lambda e: [m.value for m in e]),
        default=EventStatus.DRAFT,
        index=True,
    )


class TicketType(UUIDPrimaryKey, TenantScoped, Timestamped, Base):
    __tablename__ = "ticket_type"
    __table_args__ = (
        UniqueConstraint("event_id", "name"),
        CheckConstraint("price_amount >= 0", name="price_not_negative"),
        CheckConstraint("capacity >= 0", name="capacity_not_negative"),
    )

    event_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("event.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(120))
    price_amount: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    capacity: Mapped[int] = mapped_column(Integer)
