"""The attendee demographics read model (fed by ``order.paid`` and ``order.refunded``).

:class:`DemographicMember` says that a person (an attendee, or a buyer) holds
``tickets`` live tickets of an event in one group (dimension, value); a report counts
the people with tickets left, so one person with five tickets is one, not five. People
are keyed hashes of their normalized email (:class:`DemographicKey`, one random key per
organization, kept by a rebuild so hashes stay the same): never an email in clear.
:class:`FirstSeenBuyer` decides new versus returning; :class:`DemographicOrder` keeps
what a paid order was counted as, so its refunds take off the same groups.
"""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, ForeignKey, LargeBinary, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from sdk.db import Base


def _organization() -> Mapped[uuid.UUID]:
    return mapped_column(ForeignKey("organization.id", ondelete="CASCADE"), primary_key=True)


class DemographicMember(Base):
    __tablename__ = "analytics_demographic_member"

    organization_id: Mapped[uuid.UUID] = _organization()
    event_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    dimension: Mapped[str] = mapped_column(String(20), primary_key=True)
    value: Mapped[str] = mapped_column(String(40), primary_key=True)
    role: Mapped[str] = mapped_column(String(8), primary_key=True)  # attendee or buyer
    person: Mapped[str] = mapped_column(String(64), primary_key=True)
    tickets: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class DemographicOrder(Base):
    """A paid order as counted: its buyer's kind and the units refunded per line."""

    __tablename__ = "analytics_demographic_order"

    organization_id: Mapped[uuid.UUID] = _organization()
    order_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    event_id: Mapped[uuid.UUID]
    buyer_kind: Mapped[str] = mapped_column(String(10))
    refunded: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")


class FirstSeenBuyer(Base):
    """The first event a buyer (keyed hash) paid for in the organization, and when."""

    __tablename__ = "analytics_first_seen_buyer"

    organization_id: Mapped[uuid.UUID] = _organization()
    buyer: Mapped[str] = mapped_column(String(64), primary_key=True)
    event_id: Mapped[uuid.UUID]
    first_paid_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class DemographicAppliedEvent(Base):
    """An outbox event the demographics model took in (once)."""

    __tablename__ = "analytics_demographic_applied_event"

    event_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    topic: Mapped[str] = mapped_column(String(200))
    applied_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class DemographicKey(Base):
    """The organization's key for hashing emails (random; survives rebuilds)."""

    __tablename__ = "analytics_demographic_key"

    organization_id: Mapped[uuid.UUID] = _organization()
    key: Mapped[bytes] = mapped_column(LargeBinary)


DEMOGRAPHIC_MODELS = (
    DemographicMember,
    DemographicOrder,
    FirstSeenBuyer,
    DemographicAppliedEvent,
    DemographicKey,
)
