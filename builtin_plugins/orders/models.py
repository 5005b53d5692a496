"""Orders, their lines, every status change, and the payments that settle them.

An order is one buyer's purchase for one event. Placing it moves the buyer's inventory
holds onto the order (the holds' expiry becomes the order's payment deadline): no pool
counter changes at checkout, so a flash sale's checkouts never queue on a hot pool row.
Payment converts the holds into sales; an order left unpaid simply lets its holds
expire, which gives the units back without a job.

Money is minor units in the event's currency; each line keeps its net, tax and gross
and the pricing breakdown it was sold at.
"""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from kernel.db import Base, TenantScoped, Timestamped, UUIDPrimaryKey, value_enum


class OrderStatus(StrEnum):
    PENDING_PAYMENT = "pending_payment"
    PAID = "paid"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class PaymentStatus(StrEnum):
    PENDING = "pending"
    REQUIRES_ACTION = "requires_action"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Order(UUIDPrimaryKey, TenantScoped, Timestamped, Base):
    __tablename__ = "ticket_order"
    __table_args__ = (
        CheckConstraint(
            "subtotal_amount >= 0 AND discount_amount >= 0 AND tax_amount >= 0 "
            "AND fee_amount >= 0 AND total_amount >= 0",
            name="amounts_not_negative",
        ),
        Index("ix_ticket_order_event_status", "event_id", "status", "created_at"),
        Index(
            "ix_ticket_order_pending_expiry",
            "expires_at",
            postgresql_where=text("status = 'pending_payment'"),
        ),
    )

    code: Mapped[str] = mapped_column(String(16), unique=True)  # shown to buyers and support
    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("event.id", ondelete="RESTRICT"))
    buyer_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), index=True
    )
    buyer_email: Mapped[str] = mapped_column(String(320))
    buyer_name: Mapped[str] = mapped_column(String(200))
    hold_owner: Mapped[str] = mapped_column(String(128))  # the cart the holds came from
    # sha256 of the token an anonymous buyer reads the order with (shown once, at checkout)
    access_token_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[OrderStatus] = mapped_column(
        value_enum(OrderStatus, "order_status"), default=OrderStatus.PENDING_PAYMENT
    )
    currency: Mapped[str] = mapped_column(String(3))
    subtotal_amount: Mapped[int] = mapped_column(Integer)  # after dynamic pricing, before tax
    discount_amount: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    tax_amount: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    fee_amount: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    total_amount: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # pay before this
    payment_provider: Mapped[str | None] = mapped_column(String(40))
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class OrderLine(UUIDPrimaryKey, TenantScoped, Base):
    """One ticket type on one date; its hold is the inventory set aside for it."""

    __tablename__ = "order_line"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("gross_amount = net_amount + tax_amount", name="gross_is_net_plus_tax"),
    )

    order_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("ticket_order.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    ticket_type_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("ticket_type.id", ondelete="RESTRICT")
    )
    event_date_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("event_date.id", ondelete="RESTRICT")
    )
    hold_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("inventory_hold.id", ondelete="RESTRICT"), unique=True
    )
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price_amount: Mapped[int] = mapped_column(Integer)  # after pricing and discounts
    discount_amount: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    net_amount: Mapped[int] = mapped_column(Integer)
    tax_amount: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    gross_amount: Mapped[int] = mapped_column(Integer)
    pricing: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)  # the quote breakdown
    attendees: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, default=list, server_default="[]"
    )  # per ticket: name, email, answers


class OrderTransition(UUIDPrimaryKey, TenantScoped, Base):
    """Every status change of an order: who (or what) made it, and why."""

    __tablename__ = "order_transition"

    order_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("ticket_order.id", ondelete="CASCADE"), index=True
    )
    from_status: Mapped[OrderStatus | None] = mapped_column(
        value_enum(OrderStatus, "order_status"), nullable=True
    )
    to_status: Mapped[OrderStatus] = mapped_column(value_enum(OrderStatus, "order_status"))
    actor_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    actor: Mapped[str] = mapped_column(String(20))  # buyer, organizer, provider, system
    reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Payment(UUIDPrimaryKey, TenantScoped, Timestamped, Base):
    __tablename__ = "payment"
    __table_args__ = (
        UniqueConstraint("provider", "reference"),
        CheckConstraint("amount > 0", name="amount_positive"),
    )

    order_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("ticket_order.id", ondelete="RESTRICT"), index=True
    )
    provider: Mapped[str] = mapped_column(String(40))
    reference: Mapped[str | None] = mapped_column(String(255))  # the provider's id
    status: Mapped[PaymentStatus] = mapped_column(
        value_enum(PaymentStatus, "payment_status"), default=PaymentStatus.PENDING
    )
    amount: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    client_data: Mapped[dict[str, Any]] = mapped_column(
        JSONB, default=dict, server_default="{}"
    )  # what the buyer's browser needs (a client secret, bank details)
    failure_reason: Mapped[str | None] = mapped_column(String(500))
    succeeded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
