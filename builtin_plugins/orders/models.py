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
    BigInteger,
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

from sdk.db import Base, TenantScoped, Timestamped, UUIDPrimaryKey, value_enum


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
    promo_code: Mapped[str | None] = mapped_column(String(64))  # as given, upper case
    # who is billed, for tax: name, company, country, region, tax_id
    billing: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")
    refunded_amount: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
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
    # A hold is on at most one line; None once the order's payment could not be started
    # and its holds went back to the cart (orders_0003).
    hold_id: Mapped[uuid.UUID | None] = mapped_column(
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


class RefundStatus(StrEnum):
    PENDING = "pending"  # asked of the provider, not confirmed yet
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class RefundOrigin(StrEnum):
    ORGANIZER = "organizer"  # through the API
    EVENT_CANCELLED = "event_cancelled"  # the bulk refund of a cancelled event
    PROVIDER = "provider"  # made at the provider (a dashboard) and reported back


class Refund(UUIDPrimaryKey, TenantScoped, Timestamped, Base):
    """Money given back on an order, to the payment it came from.

    Only a ``succeeded`` refund has effects (tickets voided, units returned, ledger); a
    ``pending`` one still counts against what can be refunded, so two refunds never
    give back more than was paid.
    """

    __tablename__ = "refund"
    __table_args__ = (
        UniqueConstraint("provider", "reference"),
        CheckConstraint("amount > 0", name="amount_positive"),
    )

    order_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("ticket_order.id", ondelete="RESTRICT"), index=True
    )
    payment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("payment.id", ondelete="RESTRICT"))
    provider: Mapped[str] = mapped_column(String(40))
    reference: Mapped[str | None] = mapped_column(String(255))  # the provider's refund id
    status: Mapped[RefundStatus] = mapped_column(
        value_enum(RefundStatus, "refund_status"), default=RefundStatus.PENDING
    )
    origin: Mapped[RefundOrigin] = mapped_column(value_enum(RefundOrigin, "refund_origin"))
    amount: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    return_to_stock: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    requested_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    failure_reason: Mapped[str | None] = mapped_column(String(500))
    succeeded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RefundItem(UUIDPrimaryKey, TenantScoped, Base):
    """What a refund gives back of one line: units (their tickets are voided) and money."""

    __tablename__ = "refund_item"
    __table_args__ = (CheckConstraint("quantity >= 0 AND amount >= 0", name="not_negative"),)

    refund_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("refund.id", ondelete="CASCADE"), index=True
    )
    order_line_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("order_line.id", ondelete="RESTRICT"), index=True
    )
    ticket_ids: Mapped[list[str]] = mapped_column(JSONB, default=list, server_default="[]")
    quantity: Mapped[int] = mapped_column(Integer)
    amount: Mapped[int] = mapped_column(Integer)


class LedgerKind(StrEnum):
    CHARGE = "charge"
    REFUND = "refund"
    FEE = "fee"
    DISPUTE = "dispute"
    DISPUTE_REVERSAL = "dispute_reversal"


class LedgerTransaction(UUIDPrimaryKey, TenantScoped, Base):
    """One money movement, posted as entries that sum to zero (double entry).

    Append-only: the database refuses updates and deletes, and refuses to commit a
    transaction whose entries do not balance to the cent. ``(kind, provider,
    reference)`` is unique, so a movement reported twice is recorded once.
    """

    __tablename__ = "ledger_transaction"
    __table_args__ = (
        UniqueConstraint("kind", "provider", "reference"),
        Index("ix_ledger_transaction_org_time", "organization_id", "occurred_at", "id"),
    )

    order_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("ticket_order.id", ondelete="RESTRICT"), index=True
    )
    kind: Mapped[LedgerKind] = mapped_column(value_enum(LedgerKind, "ledger_kind"))
    provider: Mapped[str] = mapped_column(String(40))
    reference: Mapped[str] = mapped_column(String(255))  # the provider's id for it
    currency: Mapped[str] = mapped_column(String(3))
    memo: Mapped[str] = mapped_column(Text, default="", server_default="")
    occurred_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class LedgerEntry(UUIDPrimaryKey, TenantScoped, Base):
    """One leg of a ledger transaction: a signed amount on one account."""

    __tablename__ = "ledger_entry"

    transaction_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("ledger_transaction.id", ondelete="RESTRICT"), index=True
    )
    account: Mapped[str] = mapped_column(String(64))  # e.g. provider:stripe, sales, tax
    amount: Mapped[int] = mapped_column(BigInteger)  # minor units; debits positive


class QuestionKind(StrEnum):
    TEXT = "text"
    LONG_TEXT = "long_text"
    CHOICE = "choice"  # one of options
    MULTIPLE_CHOICE = "multiple_choice"  # any of options
    BOOLEAN = "boolean"
    NUMBER = "number"
    DATE = "date"


class EventQuestion(UUIDPrimaryKey, TenantScoped, Timestamped, Base):
    """A question an organizer asks each attendee of an event (optionally of some types)."""

    __tablename__ = "event_question"
    __table_args__ = (Index("ix_event_question_event", "event_id", "position"),)

    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"))
    label: Mapped[str] = mapped_column(String(300))
    help_text: Mapped[str] = mapped_column(Text, default="", server_default="")
    kind: Mapped[QuestionKind] = mapped_column(value_enum(QuestionKind, "question_kind"))
    required: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    options: Mapped[list[str]] = mapped_column(JSONB, default=list, server_default="[]")
    # empty: every ticket type of the event
    ticket_type_ids: Mapped[list[str]] = mapped_column(JSONB, default=list, server_default="[]")
    position: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
