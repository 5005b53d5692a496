"""The projection's math on synthetic curves with known answers."""

from __future__ import annotations

from builtin_plugins.analytics.forecast import cumulative_by, forecast, quantile


def linear(per_day: int, first: int, last: int = 0) -> dict[int, int]:
    """``per_day`` tickets each day from ``first`` days before the event to ``last``."""
    return dict.fromkeys(range(last, first + 1), per_day)


def test_own_pace_continues_a_linear_curve() -> None:
    sold_so_far = linear(5, first=19, last=10)  # 10 days at 5 a day, 10 days left
    result = forecast(sold_so_far, days_now=10, capacity=None)
    assert result.method == "own_pace"
    assert result.sold == 50
    assert [day.expected for day in result.days] == [55 + 5 * k for k in range(10)]
    assert result.expected_final == 100
    assert result.low < 100 < result.high
    assert result.sellout_days_to_event is None


def test_own_pace_band_widens_with_time() -> None:
    result = forecast(linear(5, first=19, last=10), days_now=10, capacity=None)
    widths = [day.high - day.low for day in result.days]
    assert widths == sorted(widths) and widths[0] > 0


def test_sell_out_day_is_when_the_projection_reaches_capacity() -> None:
    result = forecast(linear(5, first=19, last=10), days_now=10, capacity=80)
    # 50 now, 5 a day: 80 after 6 more days, i.e. 4 days before the event
    assert result.sellout_days_to_event == 4
    assert result.expected_final == 80 and result.high == 80
    assert max(day.expected for day in result.days) == 80


def test_past_event_shape_scaled_to_this_event() -> None:
    # the past event sold 10 a day for 20 days (200); this one 3x as fast so far
    past = linear(10, first=19)
    now = linear(30, first=19, last=10)  # 300 by 10 days before
    result = forecast(now, days_now=10, capacity=None, past=[past])
    assert result.method == "past_events" and result.past_events == 1
    assert result.expected_final == 600
    assert result.low == result.high == 600
    assert [day.expected for day in result.days] == [330 + 30 * k for k in range(10)]


def test_past_events_median_and_band() -> None:
    # by 10 days before, three past events had sold 1/2, 1/4 and 1/5 of their totals
    halves = {10: 50, 0: 50}
    quarters = {10: 25, 0: 75}
    fifths = {10: 20, 0: 80}
    result = forecast({12: 40}, days_now=10, capacity=None, past=[halves, quarters, fifths])
    assert result.sold == 40
    # expected finals 80, 160 and 200: median 160, quartiles 120 and 180
    assert (result.expected_final, result.low, result.high) == (160, 120, 180)


def test_past_events_that_had_not_sold_yet_fall_back_to_own_pace() -> None:
    late = {2: 100}
    result = forecast(linear(5, first=19, last=10), days_now=10, capacity=None, past=[late])
    assert result.method == "own_pace"


def test_nothing_sold_projects_nothing() -> None:
    result = forecast({}, days_now=5, capacity=100)
    assert result.method == "none"
    assert result.expected_final == 0 and result.sellout_days_to_event is None


def test_helpers() -> None:
    assert cumulative_by({5: 1, 3: 2, 1: 4}, 3) == 3
    assert quantile([1, 2, 3, 4], 0.5) == 2.5
    assert quantile([7], 0.25) == 7
