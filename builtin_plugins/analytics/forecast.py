"""Projected sales up to the event date: pure functions, no database.

Time runs in *days to event* (``d``: 0 is the event's first day, 7 a week before), so
curves of events of any date compare. A curve maps ``d`` to net tickets sold that day.

**Past events** (the organization's events that already took place, with sales):
each gives a shape ``share_i(d)``, the part of its final sales sold by ``d`` days
before. The event has sold ``S`` by today (``d_now``); if it follows event ``i`` it will
have sold ``S * share_i(d) / share_i(d_now)`` by day ``d``. The projection is the median
of those over the past events, the band their lower and upper quartile (linear
interpolation; with one past event the band is that one curve).

**Own pace** (no past event sold by ``d_now``): the event's own rate over its last
:data:`PACE_WINDOW` days, ``r = n / w``, continued: ``S + r * k`` after ``k`` more days.
The band is about two standard deviations of a Poisson count: ``r * k`` for the days to
come plus ``(k / w)^2 * n`` for the rate being estimated from ``n`` sales.

Either way the projection and its band stop at ``capacity``; the estimated sell-out day
is the first day the projection reaches it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

Curve = Mapping[int, int]  # days to event -> net tickets sold that day
PACE_WINDOW = 7
Z = 1.96  # about 95 % of a normal distribution


@dataclass(frozen=True, slots=True)
class DayForecast:
    days_to_event: int
    expected: int  # cumulative tickets by the end of that day
    low: int
    high: int


@dataclass(frozen=True, slots=True)
class Forecast:
    method: str  # "past_events", "own_pace" or "none"
    past_events: int
    sold: int
    expected_final: int
    low: int
    high: int
    days: tuple[DayForecast, ...]
    sellout_days_to_event: int | None  # None: not projected to sell out


def cumulative_by(curve: Curve, days_to_event: int) -> int:
    """Tickets sold up to and including ``days_to_event`` days before."""
    return sum(n for d, n in curve.items() if d >= days_to_event)


def quantile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile of ``values`` by linear interpolation (``q`` in [0, 1])."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    below = math.floor(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


def _capped(value: float, capacity: int | None) -> int:
    value = max(round(value), 0)
    return value if capacity is None else min(value, capacity)


def forecast(
    curve: Curve,
    *,
    days_now: int,
    capacity: int | None,
    past: Sequence[Curve] = (),
) -> Forecast:
    """Project ``curve`` (sold up to ``days_now`` days before) to day 0, from ``past``
    curves when any sold by ``days_now``, else from the event's own pace."""
    sold = cumulative_by(curve, days_now)
    ahead = range(days_now - 1, -1, -1)
    ratios = _past_ratios(past, days_now) if sold > 0 else []
    if ratios:
        method = "past_events"
        rows = []
        for d in ahead:
            projected = [sold * ratio(d) for ratio in ratios]
            rows.append((d, quantile(projected, 0.5), *_band(projected)))
    else:
        window = min(PACE_WINDOW, max(max(curve, default=days_now) - days_now + 1, 1))
        recent = sum(n for d, n in curve.items() if days_now <= d < days_now + window)
        rate = recent / window
        method = "own_pace" if recent > 0 else "none"
        rows = []
        for d in ahead:
            k = days_now - d
            spread = Z * math.sqrt(rate * k + (k / window) ** 2 * recent)
            rows.append((d, sold + rate * k, sold + rate * k - spread, sold + rate * k + spread))
    days = tuple(
        DayForecast(d, _capped(mid, capacity), _capped(low, capacity), _capped(high, capacity))
        for d, mid, low, high in rows
    )
    last = days[-1] if days else DayForecast(0, sold, sold, sold)
    sellout = None
    if capacity is not None:
        if sold >= capacity:
            sellout = days_now
        else:
            sellout = next((day.days_to_event for day in days if day.expected >= capacity), None)
    return Forecast(
        method=method,
        past_events=len(ratios),
        sold=sold,
        expected_final=last.expected,
        low=last.low,
        high=last.high,
        days=days,
        sellout_days_to_event=sellout,
    )


def _band(values: Sequence[float]) -> tuple[float, float]:
    return quantile(values, 0.25), quantile(values, 0.75)


def _past_ratios(past: Sequence[Curve], days_now: int):
    """For each past curve that sold by ``days_now``: ``d -> sold_by(d) / sold_by(now)``."""
    ratios = []
    for curve in past:
        base = cumulative_by(curve, days_now)
        if base > 0:
            ratios.append(lambda d, curve=curve, base=base: cumulative_by(curve, d) / base)
    return ratios
