"""The Stripe plugin's tables: the events already handled, and each organization's account.

``stripe_event`` has one row per Stripe event id, written in the same transaction as the
event's effect, so a redelivered event finds its row and does nothing.

``stripe_account`` says which Stripe account takes an organization's payments: its
``own`` (keys it pasted in; the secret key and the webhook signing secret encrypted with
the kernel's key ring, bound to the organization) or a ``connected`` account of the
platform (``acct_...``, called with the platform's key). No row: the platform's account.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    LargeBinary,
    String,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from sdk.db import Base, Timestamped, value_enum


class StripeEvent(Base):
    __tablename__ = "stripe_event"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)  # evt_...
    type: Mapped[str] = mapped_column(String(100))
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # Stripe's timestamp
    processed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class StripeAccountKind(StrEnum):
    OWN = "own"  # the organization's own Stripe account, its own keys
    CONNECTED = "connected"  # a connected account of the platform (Stripe Connect)


class StripeAccount(Timestamped, Base):
    """One organization's Stripe account; the secrets are AES-GCM ciphertexts."""

    __tablename__ = "stripe_account"
    __table_args__ = (
        CheckConstraint(
            "(kind = 'own' AND secret_key IS NOT NULL AND webhook_secret IS NOT NULL"
            " AND publishable_key IS NOT NULL AND connected_account_id IS NULL)"
            " OR (kind = 'connected' AND connected_account_id IS NOT NULL"
            " AND secret_key IS NULL AND webhook_secret IS NULL)",
            name="kind_fields",
        ),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[StripeAccountKind] = mapped_column(
        value_enum(StripeAccountKind, "stripe_account_kind")
    )
    # one organization per connected account, so a Connect event names one organization
    connected_account_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    secret_key: Mapped[bytes | None] = mapped_column(LargeBinary)  # encrypted
    secret_key_hint: Mapped[str | None] = mapped_column(String(40))  # sk_test_…1234
    publishable_key: Mapped[str | None] = mapped_column(String(255))  # public by design
    webhook_secret: Mapped[bytes | None] = mapped_column(LargeBinary)  # encrypted
    livemode: Mapped[bool | None] = mapped_column(Boolean)  # own keys only
