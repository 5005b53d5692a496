"""The Stripe events already handled: one row per Stripe event id, written in the same
transaction as the event's effect, so a redelivered event finds its row and does nothing."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, String, func
from sqlalchemy.orm import Mapped, mapped_column

from kernel.db import Base


class StripeEvent(Base):
    __tablename__ = "stripe_event"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)  # evt_...
    type: Mapped[str] = mapped_column(String(100))
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # Stripe's timestamp
    processed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
