"""Promo codes and their redemptions.

A code belongs to an organization and optionally to one event (``event_id`` null: every
event of the organization). It discounts either a percentage (``percent_off``, basis
points) or a fixed amount per ticket (``amount_off`` minor units of ``currency``), never
both: the database refuses anything else, and ``used`` can never pass ``max_uses``.

A redemption is one order's use of a code, counted in tickets. ``order_id`` is a plain
uuid, not a foreign key to ``ticket_order``: the plugin knows orders only through the
hook snapshots and the ``order.*`` events, so its branch depends on no orders migration
and its tables can be migrated (or dropped) without the orders plugin's. The redemption
is written in the checkout transaction, so it never outlives a rolled-back order.
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
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import Uuid

from sdk.db import Base, TenantScoped, Timestamped, UUIDPrimaryKey, value_enum

CODE_REGEX = r"^[A-Z0-9_-]{3,64}$"


class RedemptionStatus(StrEnum):
    ACTIVE = "active"  # the order holds its uses
    RELEASED = "released"  # the order expired or was cancelled: the uses came back


class PromoCode(UUIDPrimaryKey, TenantScoped, Timestamped, Base):
    __tablename__ = "promo_code"
    __table_args__ = (
        UniqueConstraint("organization_id", "code"),
        CheckConstraint(f"code ~ '{CODE_REGEX}'", name="code_format"),
        CheckConstraint("(percent_off IS NULL) <> (amount_off IS NULL)", name="one_discount"),
        CheckConstraint(
            "percent_off IS NULL OR percent_off BETWEEN 1 AND 10000", name="percent_range"
        ),
        CheckConstraint(
            "amount_off IS NULL OR (amount_off > 0 AND currency IS NOT NULL)",
            name="amount_has_currency",
        ),
        CheckConstraint("max_uses IS NULL OR max_uses >= 1", name="max_uses_positive"),
        CheckConstraint(
            "max_uses_per_buyer IS NULL OR max_uses_per_buyer >= 1",
            name="max_uses_per_buyer_positive",
        ),
        CheckConstraint(
            "used >= 0 AND (max_uses IS NULL OR used <= max_uses)", name="never_overused"
        ),
        CheckConstraint(
            "valid_from IS NULL OR valid_until IS NULL OR valid_from < valid_until",
            name="validity_window",
        ),
        Index("ix_promo_code_listing", "organization_id", "created_at", "id"),
    )

    event_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("event.id", ondelete="CASCADE"), index=True
    )
    code: Mapped[str] = mapped_column(String(64))  # normalized: upper case
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    percent_off: Mapped[int | None] = mapped_column(Integer)  # basis points: 2000 = 20 %
    amount_off: Mapped[int | None] = mapped_column(Integer)  # minor units per ticket
    currency: Mapped[str | None] = mapped_column(String(3))
    # Empty: every ticket type. The types a code unlocks are always eligible too.
    ticket_type_ids: Mapped[list[uuid.UUID]] = mapped_column(
        ARRAY(Uuid), default=list, server_default="{}"
    )
    unlocks_ticket_type_ids: Mapped[list[uuid.UUID]] = mapped_column(
        ARRAY(Uuid), default=list, server_default="{}"
    )
    max_uses: Mapped[int | None] = mapped_column(Integer)  # tickets; null: unlimited
    max_uses_per_buyer: Mapped[int | None] = mapped_column(Integer)  # tickets per buyer
    used: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    valid_from: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    valid_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # exclusive
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")


class PromoRedemption(UUIDPrimaryKey, TenantScoped, Base):
    __tablename__ = "promo_redemption"
    __table_args__ = (
        UniqueConstraint("promo_code_id", "order_id"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        Index("ix_promo_redemption_buyer", "promo_code_id", "buyer_key"),
    )

    promo_code_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("promo_code.id", ondelete="CASCADE")
    )
    order_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    buyer_key: Mapped[str] = mapped_column(String(320))  # user:<id> or email:<lower-case>
    quantity: Mapped[int] = mapped_column(Integer)  # tickets the code was used for
    status: Mapped[RedemptionStatus] = mapped_column(
        value_enum(RedemptionStatus, "promo_redemption_status"),
        default=RedemptionStatus.ACTIVE,
        server_default="active",
    )
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    released_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
