"""What payment providers said they moved, imported for reconciliation.

The orders plugin keeps these rows, not the provider's plugin: reconciliation checks
the ledger (which this plugin owns) against them, and any provider answering
``ticketing_provider_movements`` gets it without tables of its own. ``(provider,
provider_id)`` is unique, so importing a period again updates the same rows (a
transaction's payout is only known once it is paid out) and never duplicates one.
"""

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Index, String, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from sdk.db import Base, TenantScoped, UUIDPrimaryKey


class ProviderBalanceTransaction(UUIDPrimaryKey, TenantScoped, Base):
    """One movement of the organization's balance at a provider (signed minor units)."""

    __tablename__ = "provider_balance_transaction"
    __table_args__ = (
        UniqueConstraint("provider", "provider_id"),
        Index("ix_provider_balance_transaction_org_time", "organization_id", "created_at"),
        Index("ix_provider_balance_transaction_payout", "organization_id", "payout_id"),
    )

    provider: Mapped[str] = mapped_column(String(40))
    provider_id: Mapped[str] = mapped_column(String(255))  # txn_...
    kind: Mapped[str] = mapped_column(String(40))  # charge, refund, dispute, payout, ...
    amount: Mapped[int] = mapped_column(BigInteger)
    fee: Mapped[int] = mapped_column(BigInteger)
    net: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    source: Mapped[str] = mapped_column(String(255), default="")  # ch_/re_/dp_/po_...
    payment_reference: Mapped[str] = mapped_column(String(255), default="")  # pi_...
    payout_id: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(40), default="")
    description: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # the provider's
    available_on: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    imported_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class ProviderPayout(UUIDPrimaryKey, TenantScoped, Base):
    """Money a provider sent to the organization's bank."""

    __tablename__ = "provider_payout"
    __table_args__ = (
        UniqueConstraint("provider", "provider_id"),
        Index("ix_provider_payout_org_time", "organization_id", "created_at"),
    )

    provider: Mapped[str] = mapped_column(String(40))
    provider_id: Mapped[str] = mapped_column(String(255))  # po_...
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(40), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    arrival_date: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    imported_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
