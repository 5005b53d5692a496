"""One event's performance and projection, assembled from the read models.

Figures and where they come from: views from ``analytics_page_view``; holds from the
events plugin's hold ledger (:func:`holds_placed`, counted at report time so the
flash-sale hold path does no extra work); orders, tickets and money from
``analytics_sales``; issued, voided, transferred and checked-in tickets from
``analytics_ticket_activity``; pools live from the events plugin (:func:`pool_states`).
A rate whose denominator is zero is ``None``, not 0.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.analytics.curves import EventTimes, past_curves, sales_curve
from builtin_plugins.analytics.forecast import Forecast, cumulative_by, forecast, quantile
from builtin_plugins.analytics.models import TICKET_COUNTERS, PageView, SalesFigures, TicketActivity
from builtin_plugins.events.inventory import PoolState, holds_placed, pool_states

SALES_SUMS = (
    "orders_placed",
    "orders_paid",
    "tickets_sold",
    "tickets_refunded",
    "gross_amount",
    "tax_amount",
    "refund_amount",
    "refund_tax_amount",
)


def ratio(part: int, whole: int) -> float | None:
    return None if whole <= 0 else round(part / whole, 4)


@dataclass(frozen=True, slots=True)
class PoolUse:
    id: uuid.UUID
    name: str
    kind: str
    capacity: int
    sold: int
    held: int
    use: float | None  # (sold + held) / capacity


@dataclass(frozen=True, slots=True)
class Performance:
    views: int
    holds: int
    orders_placed: int
    orders_paid: int
    tickets_sold: int  # paid minus refunded
    tickets_issued: int
    tickets_voided: int
    tickets_transferred: int
    checked_in: int
    no_shows: int | None  # once the event ended
    net_revenue: int  # minor units of currency
    currency: str
    days_to_event: int
    sold_by_now: int
    past_median_by_now: float | None
    past_events: int
    view_to_hold: float | None
    hold_to_order: float | None
    check_in_rate: float | None
    revenue_per_attendee: int | None
    pace_vs_past: float | None
    pools: tuple[PoolUse, ...]


async def _sums(session, model, names, organization_id, event_id) -> dict[str, int]:
    columns = [func.coalesce(func.sum(getattr(model, name)), 0) for name in names]
    row = (
        await session.execute(
            select(*columns).where(
                model.organization_id == organization_id, model.event_id == event_id
            )
        )
    ).one()
    return {name: int(value) for name, value in zip(names, row, strict=True)}


async def performance(
    session: AsyncSession, organization_id: uuid.UUID, event: EventTimes, now: datetime
) -> Performance:
    views = await session.scalar(
        select(func.count()).where(
            PageView.organization_id == organization_id, PageView.event_id == event.id
        )
    )
    holds, _units = await holds_placed(session, organization_id=organization_id, event_id=event.id)
    sales = await _sums(session, SalesFigures, SALES_SUMS, organization_id, event.id)
    tickets = await _sums(session, TicketActivity, TICKET_COUNTERS, organization_id, event.id)
    valid = tickets["tickets_issued"] - tickets["tickets_voided"]
    checked_in = tickets["tickets_checked_in"]
    net = (
        sales["gross_amount"]
        - sales["refund_amount"]
        - (sales["tax_amount"] - sales["refund_tax_amount"])
    )
    days_now = max(event.days_to_event(now), 0)
    own = await sales_curve(session, organization_id, event)
    past = await past_curves(session, organization_id, now=now, exclude=event.id)
    sold_by_now = cumulative_by(own, days_now)
    past_by_now = [cumulative_by(curve, days_now) for curve in past]
    median = quantile(past_by_now, 0.5) if past_by_now else None
    pools = await pool_states(session, event_id=event.id)
    return Performance(
        views=int(views or 0),
        holds=holds,
        orders_placed=sales["orders_placed"],
        orders_paid=sales["orders_paid"],
        tickets_sold=sales["tickets_sold"] - sales["tickets_refunded"],
        tickets_issued=tickets["tickets_issued"],
        tickets_voided=tickets["tickets_voided"],
        tickets_transferred=tickets["tickets_transferred"],
        checked_in=checked_in,
        no_shows=max(valid - checked_in, 0) if event.ends_at <= now else None,
        net_revenue=net,
        currency=event.currency,
        days_to_event=days_now,
        sold_by_now=sold_by_now,
        past_median_by_now=median,
        past_events=len(past),
        view_to_hold=ratio(holds, int(views or 0)),
        hold_to_order=ratio(sales["orders_placed"], holds),
        check_in_rate=ratio(checked_in, valid),
        revenue_per_attendee=net // checked_in if checked_in > 0 else None,
        pace_vs_past=round(sold_by_now / median, 4) if median else None,
        pools=tuple(_pool_use(pool) for pool in pools),
    )


def _pool_use(pool: PoolState) -> PoolUse:
    return PoolUse(
        id=pool.id,
        name=pool.name,
        kind=pool.kind.value,
        capacity=pool.capacity,
        sold=pool.sold,
        held=pool.held,
        use=ratio(pool.sold + pool.held, pool.capacity),
    )


def capacity_of(pools: list[PoolState]) -> int | None:
    """What the event can sell at most: its event pool, else its date pools, else its
    type and shared pools summed; ``None`` (unlimited) without pools."""
    for kinds in (("event",), ("date",), ("ticket_type", "shared")):
        chosen = [pool.capacity for pool in pools if pool.kind.value in kinds]
        if chosen:
            return min(chosen) if kinds == ("event",) else sum(chosen)
    return None


async def projection(
    session: AsyncSession, organization_id: uuid.UUID, event: EventTimes, now: datetime
) -> Forecast:
    days_now = max(event.days_to_event(now), 0)
    own = await sales_curve(session, organization_id, event)
    past = await past_curves(session, organization_id, now=now, exclude=event.id)
    capacity = capacity_of(await pool_states(session, event_id=event.id))
    return forecast(own, days_now=days_now, capacity=capacity, past=past)
