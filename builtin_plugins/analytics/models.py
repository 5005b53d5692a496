"""The analytics read models: counters kept from the outbox's domain events.

:class:`SalesFigures` holds one row of counters per organization, event, event date,
ticket type, day (the day the counted thing happened, in the event's time zone), promo
code (``""`` for none), sales channel and currency: every report groups and sums these
rows, never the order tables. The grain is fine enough for the later reports (event
performance, projections) to sum them too.

:class:`AppliedEvent` remembers each outbox event the read models took in, so applying
an event twice (a redelivery, a replay racing a delivery) changes nothing, whatever path
applied it. Event, date and ticket type ids are plain uuids: the rows are the plugin's
own copy of facts and follow no other plugin's tables (its branch depends on the
kernel's only); an organization's rows go with it.
"""

import uuid
from datetime import date, datetime

from sqlalchemy import BigInteger, Date, DateTime, ForeignKey, String, func
from sqlalchemy.orm import Mapped, mapped_column

from sdk.db import Base

COUNTERS = (
    "orders_placed",
    "orders_paid",
    "orders_cancelled",
    "orders_expired",
    "tickets_sold",
    "tickets_refunded",
    "gross_amount",
    "discount_amount",
    "tax_amount",
    "fee_amount",
    "refund_amount",
    "refund_tax_amount",
)
DIMENSIONS = (
    "organization_id",
    "event_id",
    "event_date_id",
    "ticket_type_id",
    "day",
    "promo_code",
    "channel",
    "currency",
)


def _counter() -> Mapped[int]:
    return mapped_column(BigInteger, default=0, server_default="0")


class SalesFigures(Base):
    """Counters of one (event, date, ticket type, day, promo code, channel, currency).

    Orders are counted once, on the row of their first line; tickets and money on each
    line's row. Money is minor units of ``currency``.
    """

    __tablename__ = "analytics_sales"

    # the primary key starts with it: every report filters on it
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), primary_key=True
    )
    event_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    event_date_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    ticket_type_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    promo_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    channel: Mapped[str] = mapped_column(String(40), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    orders_placed: Mapped[int] = _counter()
    orders_paid: Mapped[int] = _counter()
    orders_cancelled: Mapped[int] = _counter()
    orders_expired: Mapped[int] = _counter()
    tickets_sold: Mapped[int] = _counter()
    tickets_refunded: Mapped[int] = _counter()
    gross_amount: Mapped[int] = _counter()
    discount_amount: Mapped[int] = _counter()
    tax_amount: Mapped[int] = _counter()
    fee_amount: Mapped[int] = _counter()
    refund_amount: Mapped[int] = _counter()
    refund_tax_amount: Mapped[int] = _counter()


class AppliedEvent(Base):
    """An outbox event the read models took in (once)."""

    __tablename__ = "analytics_applied_event"

    event_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    topic: Mapped[str] = mapped_column(String(200))
    applied_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


TICKET_COUNTERS = (
    "tickets_issued",
    "tickets_voided",
    "tickets_transferred",
    "tickets_checked_in",
)
NO_DATE = uuid.UUID(int=0)  # the event_date_id of activity no single date owns


class TicketActivity(Base):
    """Counters of one (event, date, day) from the ``ticket.*`` events.

    ``event_date_id`` is :data:`NO_DATE` where the event does not name a date (a
    transfer); ``day`` is the day it happened in the event's time zone.
    """

    __tablename__ = "analytics_ticket_activity"

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), primary_key=True
    )
    event_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    event_date_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    tickets_issued: Mapped[int] = _counter()
    tickets_voided: Mapped[int] = _counter()
    tickets_transferred: Mapped[int] = _counter()
    tickets_checked_in: Mapped[int] = _counter()


class PageView(Base):
    """A visitor saw the event's page on ``day`` (counted once per visitor and day).

    Written straight by the public endpoint, insert-only: a flash sale's viewers add
    rows and never wait on one hot counter row or on the outbox relay.
    """

    __tablename__ = "analytics_page_view"

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), primary_key=True
    )
    event_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    visitor: Mapped[str] = mapped_column(String(64), primary_key=True)
