"""What the event performance and projection reports answer (JSON, and CSV columns)."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from datetime import date, timedelta

from pydantic import BaseModel, Field

from builtin_plugins.analytics.curves import EventTimes
from builtin_plugins.analytics.forecast import Forecast
from builtin_plugins.analytics.performance import Performance
from sdk.exports import csv_text


class PoolUsePublic(BaseModel):
    id: uuid.UUID
    name: str
    kind: str
    capacity: int
    sold: int
    held: int
    use: float | None = Field(description="(sold + held) / capacity")


class PerformancePublic(BaseModel):
    """One event's funnel, attendance and money; rates are null where their base is 0."""

    event_id: uuid.UUID
    views: int = Field(description="page views, once per visitor and day")
    holds: int = Field(description="holds placed (the hold ledger, direct sales included)")
    orders_placed: int
    orders_paid: int
    tickets_sold: int = Field(description="paid minus refunded")
    tickets_issued: int
    tickets_voided: int
    tickets_transferred: int
    checked_in: int
    no_shows: int | None = Field(description="issued - voided - checked in; after the end only")
    net_revenue: int = Field(description="minor units: gross - refunds - (tax - refunded tax)")
    currency: str
    days_to_event: int
    sold_by_now: int
    past_median_by_now: float | None = Field(
        description="median over past events of tickets sold by the same days to event"
    )
    past_events: int
    view_to_hold: float | None
    hold_to_order: float | None
    check_in_rate: float | None = Field(description="checked in / (issued - voided)")
    revenue_per_attendee: int | None = Field(description="net revenue / checked in")
    pace_vs_past: float | None = Field(description="sold_by_now / past_median_by_now")
    pools: list[PoolUsePublic]


def performance_public(event_id: uuid.UUID, figures: Performance) -> PerformancePublic:
    values = asdict(figures)
    values["pools"] = [PoolUsePublic(**pool) for pool in values["pools"]]
    return PerformancePublic(event_id=event_id, **values)


def performance_csv(report: PerformancePublic) -> str:
    """Two columns, ``figure`` and ``value``; a pool's figures as ``pool.<id>.<name>``."""
    lines = [[name, value] for name, value in report.model_dump(exclude={"pools"}).items()]
    for pool in report.pools:
        for name in ("name", "kind", "capacity", "sold", "held", "use"):
            lines.append([f"pool.{pool.id}.{name}", getattr(pool, name)])
    return csv_text(["figure", "value"], lines)


class ProjectedDay(BaseModel):
    day: date
    days_to_event: int
    expected: int = Field(description="cumulative tickets by the end of the day")
    low: int
    high: int


class ProjectionPublic(BaseModel):
    """Expected net tickets up to the event; see the README for the method."""

    event_id: uuid.UUID
    method: str = Field(description="past_events, own_pace, or none (nothing sold yet)")
    past_events: int
    sold: int
    expected_final: int
    low: int
    high: int
    sellout_date: date | None
    days: list[ProjectedDay]


def projection_public(event: EventTimes, result: Forecast) -> ProjectionPublic:
    def day_of(days_to_event: int) -> date:
        return event.start_day - timedelta(days=days_to_event)

    return ProjectionPublic(
        event_id=event.id,
        method=result.method,
        past_events=result.past_events,
        sold=result.sold,
        expected_final=result.expected_final,
        low=result.low,
        high=result.high,
        sellout_date=None
        if result.sellout_days_to_event is None
        else day_of(result.sellout_days_to_event),
        days=[
            ProjectedDay(
                day=day_of(d.days_to_event),
                days_to_event=d.days_to_event,
                expected=d.expected,
                low=d.low,
                high=d.high,
            )
            for d in result.days
        ],
    )
