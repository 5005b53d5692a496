"""Tax rules and an organization's tax settings.

A rule says which rate applies where (the venue's or the buyer's country and region),
to what (all events, one event, some ticket types), and how (price includes the tax or
not, what a business buyer pays). :mod:`builtin_plugins.taxes.rules` chooses among them.
"""

import uuid
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, Numeric, String, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import Uuid

from sdk.db import Base, TenantScoped, Timestamped, UUIDPrimaryKey, value_enum


class TaxBasis(StrEnum):
    """Whose location decides whether a rule applies."""

    EVENT = "event"  # the venue's address (where the service is performed)
    BUYER = "buyer"  # the buyer's billing address


class BusinessTreatment(StrEnum):
    """What a buyer with a (well-formed) business tax id pays."""

    CHARGE = "charge"  # the same tax as anyone
    EXEMPT = "exempt"  # no tax
    REVERSE_CHARGE = "reverse_charge"  # no tax when the buyer is in another country


class Rounding(StrEnum):
    HALF_EVEN = "half_even"  # banker's rounding: 2.5 -> 2, 3.5 -> 4
    HALF_UP = "half_up"  # commercial rounding: 2.5 -> 3


class TaxRule(UUIDPrimaryKey, TenantScoped, Timestamped, Base):
    """One rate for one place and scope. ``country`` None: anywhere; ``region`` None: the
    whole country; ``event_id`` None: every event; ``ticket_type_ids`` empty: every type."""

    __tablename__ = "tax_rule"
    __table_args__ = (
        CheckConstraint("rate >= 0 AND rate <= 100", name="rate_percentage"),
        CheckConstraint("country IS NULL OR country ~ '^[A-Z]{2}$'", name="country_alpha2"),
        CheckConstraint("region IS NULL OR country IS NOT NULL", name="region_needs_country"),
    )

    name: Mapped[str] = mapped_column(String(100))
    rate: Mapped[Decimal] = mapped_column(Numeric(7, 4))
    country: Mapped[str | None] = mapped_column(String(2))
    region: Mapped[str | None] = mapped_column(String(100))
    basis: Mapped[TaxBasis] = mapped_column(value_enum(TaxBasis, "tax_basis"))
    price_includes_tax: Mapped[bool] = mapped_column(Boolean)
    b2b: Mapped[BusinessTreatment] = mapped_column(
        value_enum(BusinessTreatment, "tax_business_treatment")
    )
    event_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("event.id", ondelete="CASCADE"), index=True
    )
    ticket_type_ids: Mapped[list[uuid.UUID]] = mapped_column(
        ARRAY(Uuid), default=list, server_default=text("'{}'")
    )
    priority: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")


class TaxSettings(Timestamped, Base):
    """An organization's tax settings (one row; the defaults when there is none)."""

    __tablename__ = "tax_settings"

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), primary_key=True
    )
    rounding: Mapped[Rounding] = mapped_column(
        value_enum(Rounding, "tax_rounding"),
        default=Rounding.HALF_EVEN,
        server_default=Rounding.HALF_EVEN.value,
    )
