"""Events, their dates, media, ticket types and inventory.

Money is minor units plus currency; times are UTC with the event's zone kept beside them.

Inventory is counted on pools. Every hold and sale of a ticket type draws on each pool
that applies to it: the event's capacity, the date's capacity, the ticket type's own
capacity and any shared pool (pretix's quotas) it belongs to. A pool's ``sold + held``
can never exceed its ``capacity``: the database refuses it (a CHECK), whatever the
concurrency.
"""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Computed,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from sdk.db import Base, TenantScoped, Timestamped, UUIDPrimaryKey, value_enum


class EventStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class EventKind(StrEnum):
    PHYSICAL = "physical"
    VIRTUAL = "virtual"
    HYBRID = "hybrid"


class Visibility(StrEnum):
    PUBLIC = "public"
    HIDDEN = "hidden"  # sold only through a direct link
    PROMO = "promo"  # shown once a promo code unlocks it


class PoolKind(StrEnum):
    EVENT = "event"  # the event's total capacity: every type, every date
    DATE = "date"  # one date's capacity: every type on that date
    TICKET_TYPE = "ticket_type"  # one type's own capacity
    SHARED = "shared"  # several types together (pretix's quotas)


class HoldStatus(StrEnum):
    ACTIVE = "active"
    CONVERTED = "converted"
    RELEASED = "released"


class Category(UUIDPrimaryKey, Base):
    """Platform-wide categories, so buyers can browse across organizers."""

    __tablename__ = "event_category"

    slug: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(100))


class Event(UUIDPrimaryKey, TenantScoped, Timestamped, Base):
    __tablename__ = "event"
    __table_args__ = (
        UniqueConstraint("organization_id", "slug"),
        CheckConstraint("starts_at < ends_at", name="starts_before_ends"),
        CheckConstraint("capacity IS NULL OR capacity >= 0", name="capacity_not_negative"),
        Index("ix_event_search_vector", "search_vector", postgresql_using="gin"),
        Index("ix_event_tags", "tags", postgresql_using="gin"),
        Index("ix_event_status_starts_at", "status", "starts_at"),
    )

    slug: Mapped[str] = mapped_column(String(120))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")  # sanitized HTML
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    timezone: Mapped[str] = mapped_column(String(64))
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[EventStatus] = mapped_column(
        value_enum(EventStatus, "event_status"), default=EventStatus.DRAFT, index=True
    )
    kind: Mapped[EventKind] = mapped_column(
        value_enum(EventKind, "event_kind"), default=EventKind.PHYSICAL, server_default="physical"
    )
    category_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("event_category.id", ondelete="SET NULL"), index=True
    )
    tags: Mapped[list[str]] = mapped_column(ARRAY(String(50)), default=list, server_default="{}")
    venue_name: Mapped[str | None] = mapped_column(String(200))
    address: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    stream_url: Mapped[str | None] = mapped_column(String(2048))  # ticket holders only
    capacity: Mapped[int | None] = mapped_column(Integer)
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: Bumped by the database on any change to the event, its ticket types or dates
    #: (triggers), and by :func:`touch_catalog`: what a cached catalog is checked against.
    catalog_version: Mapped[int] = mapped_column(BigInteger, server_default="0")
    search_vector: Mapped[Any] = mapped_column(
        TSVECTOR,
        Computed(
            "setweight(to_tsvector('simple', coalesce(title, '')), 'A') || "
            "setweight(to_tsvector('simple', coalesce(venue_name, '')), 'B') || "
            "setweight(to_tsvector('simple', "
            "regexp_replace(coalesce(description, ''), '<[^>]*>', ' ', 'g')), 'C')",
            persisted=True,
        ),
    )


class EventDate(UUIDPrimaryKey, TenantScoped, Base):
    """One date of an event; a one-off event has exactly one, a series several."""

    __tablename__ = "event_date"
    __table_args__ = (
        CheckConstraint("starts_at < ends_at", name="starts_before_ends"),
        CheckConstraint("capacity IS NULL OR capacity >= 0", name="capacity_not_negative"),
    )

    event_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("event.id", ondelete="CASCADE"), index=True
    )
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    capacity: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class EventImage(UUIDPrimaryKey, TenantScoped, Base):
    __tablename__ = "event_image"

    event_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("event.id", ondelete="CASCADE"), index=True
    )
    storage_key: Mapped[str] = mapped_column(String(300))
    content_type: Mapped[str] = mapped_column(String(50))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    size_bytes: Mapped[int] = mapped_column(Integer)
    thumbnails: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)  # width -> key
    position: Mapped[int] = mapped_column(Integer, default=0)
    is_cover: Mapped[bool] = mapped_column(default=False, server_default="false")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class TicketType(UUIDPrimaryKey, TenantScoped, Timestamped, Base):
    __tablename__ = "ticket_type"
    __table_args__ = (
        UniqueConstraint("event_id", "name"),
        CheckConstraint("price_amount >= 0", name="price_not_negative"),
        CheckConstraint("capacity IS NULL OR capacity >= 0", name="capacity_not_negative"),
        CheckConstraint(
            "min_per_order >= 1 AND max_per_order >= min_per_order", name="order_limits"
        ),
        CheckConstraint(
            "sale_starts_at IS NULL OR sale_ends_at IS NULL OR sale_starts_at < sale_ends_at",
            name="sale_window",
        ),
    )

    event_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("event.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    price_amount: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    capacity: Mapped[int | None] = mapped_column(Integer)
    sale_starts_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sale_ends_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    min_per_order: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    max_per_order: Mapped[int] = mapped_column(Integer, default=10, server_default="10")
    visibility: Mapped[Visibility] = mapped_column(
        value_enum(Visibility, "ticket_visibility"),
        default=Visibility.PUBLIC,
        server_default="public",
    )
    position: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Per-strategy settings for dynamic pricing plugins, by strategy slug.
    pricing: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")


class InventoryPool(UUIDPrimaryKey, TenantScoped, Base):
    __tablename__ = "inventory_pool"
    __table_args__ = (
        CheckConstraint("capacity >= 0 AND sold >= 0 AND held >= 0", name="counts_not_negative"),
        CheckConstraint("sold + held <= capacity", name="never_oversold"),
        Index("ix_inventory_pool_event", "event_id", "event_date_id"),
        UniqueConstraint("ticket_type_id"),
    )

    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"))
    event_date_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("event_date.id", ondelete="CASCADE")
    )
    ticket_type_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("ticket_type.id", ondelete="CASCADE")
    )  # set for kind ticket_type only
    kind: Mapped[PoolKind] = mapped_column(value_enum(PoolKind, "inventory_pool_kind"))
    name: Mapped[str] = mapped_column(String(120))
    capacity: Mapped[int] = mapped_column(Integer)
    sold: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    held: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class PoolMember(Base):
    """Which ticket types a shared pool limits together."""

    __tablename__ = "inventory_pool_member"

    pool_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("inventory_pool.id", ondelete="CASCADE"), primary_key=True
    )
    ticket_type_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("ticket_type.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class InventoryHold(UUIDPrimaryKey, TenantScoped, Base):
    """Units set aside for a cart until ``expires_at``; converted when the order is placed.

    A converted row is a sale; ``returned`` of its units went back to stock since (voided
    tickets, refunds), so it counts as ``quantity - returned`` sold units.
    """

    __tablename__ = "inventory_hold"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("returned >= 0 AND returned <= quantity", name="returned_within_quantity"),
        Index("ix_inventory_hold_owner", "owner"),
    )

    event_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("event.id", ondelete="CASCADE"), index=True
    )
    event_date_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("event_date.id", ondelete="CASCADE")
    )
    ticket_type_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("ticket_type.id", ondelete="CASCADE")
    )
    quantity: Mapped[int] = mapped_column(Integer)
    returned: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    owner: Mapped[str] = mapped_column(String(128))  # cart token or user id
    status: Mapped[HoldStatus] = mapped_column(
        value_enum(HoldStatus, "inventory_hold_status"), default=HoldStatus.ACTIVE
    )
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PoolHold(Base):
    """A hold's share of one pool. Deleting an expired row gives its units back to the pool,
    so expiry needs no background job: whoever needs the units reclaims them."""

    __tablename__ = "inventory_pool_hold"
    __table_args__ = (Index("ix_inventory_pool_hold_expiry", "pool_id", "expires_at"),)

    pool_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("inventory_pool.id", ondelete="CASCADE"), primary_key=True
    )
    hold_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("inventory_hold.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    quantity: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
