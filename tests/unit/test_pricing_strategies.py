"""The dynamic pricing strategies: early bird, quantity tiers, demand surge, time to event.

Each strategy is a pure adjuster: the same context and running price give the same
change. They are found through their entry points and composed by ``kernel.pricing``:
``DYNAMIC`` (demand-surge, quantity-tiers, time-to-event, by code) then ``DISCOUNT``
(early-bird). Amounts are integer minor units, percentages rounded half-up.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import jsonschema
import pytest

from builtin_plugins import (
    pricing_demand_surge,
    pricing_early_bird,
    pricing_quantity_tiers,
    pricing_time_to_event,
)
from builtin_plugins.events.pricing import (
    catalog_base_price,
    sales_windows,
    validate_pricing_settings,
)
from builtin_plugins.pricing_demand_surge.strategy import DemandSurge
from builtin_plugins.pricing_early_bird.strategy import EarlyBird, percent_of
from builtin_plugins.pricing_quantity_tiers.strategy import QuantityTiers
from builtin_plugins.pricing_time_to_event.strategy import TimeToEvent
from kernel.contracts import PriceStage, PricingContext
from kernel.plugin_manager import PluginStatus, create_plugin_manager
from kernel.plugin_metadata import PluginCategory, validate_metadata
from kernel.pricing import quote_line
from tests.support.hook_caller import hooks_of

AT = datetime(2030, 5, 1, 12, 0, tzinfo=UTC)
PLUGINS = {
    "early-bird": pricing_early_bird,
    "quantity-tiers": pricing_quantity_tiers,
    "demand-surge": pricing_demand_surge,
    "time-to-event": pricing_time_to_event,
}


def context(
    pricing: dict[str, Any] | None = None,
    *,
    at: datetime = AT,
    quantity: int = 1,
    **attributes: Any,
) -> PricingContext:
    values = {"base_price": 10_000, "pricing": pricing or {}, "sold": 0, "capacity": None}
    values.update(attributes)
    return PricingContext(
        organization_id=uuid.UUID(int=1),
        event_id=uuid.UUID(int=2),
        ticket_type_id=uuid.UUID(int=3),
        quantity=quantity,
        currency="EUR",
        at=at,
        attributes=values,
    )


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def change(adjuster, line: PricingContext, unit_price: int = 10_000) -> int | None:
    adjustment = adjuster.adjust(line, unit_price)
    return None if adjustment is None else adjustment.amount


# ---------------------------------------------------------------------------------------
# Rounding
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "percent", "expected"),
    [
        (1_005, 10, 101),  # 100.5: a tie rounds up
        (1_005, -10, -101),  # ... and a negative tie away from zero, symmetric
        (1_004, 10, 100),  # 100.4
        (1_234, 20, 247),  # 246.8
        (999, 15, 150),  # 149.85
        (1, 50, 1),  # 0.5
        (1, 49, 0),
        (0, 30, 0),
        (123_456_789, 7, 8_641_975),  # 8 641 975.23, exact in Decimal
    ],
)
def test_percentages_round_half_up_to_minor_units(amount, percent, expected) -> None:
    assert percent_of(amount, percent) == expected


# ---------------------------------------------------------------------------------------
# Early bird
# ---------------------------------------------------------------------------------------

EARLY = {
    "tiers": [  # listed out of order on purpose
        {"until": iso(AT + timedelta(days=30)), "percent_off": 10},
        {"until": iso(AT), "percent_off": 30, "label": "Super early bird"},
    ]
}


def test_early_bird_first_tier_not_over_applies_and_ends_exactly_at_until() -> None:
    early = EarlyBird.from_settings(EARLY)

    before = early.adjust(context(at=AT - timedelta(microseconds=1)), 10_000)
    assert (before.stage, before.code, before.label, before.amount) == (
        PriceStage.DISCOUNT,
        "early-bird",
        "Super early bird",
        -3_000,
    )
    # at ``until`` the first tier is over: the second applies, until its own end
    at_until = early.adjust(context(at=AT), 10_000)
    assert at_until.amount == -1_000
    assert at_until.label == "Early bird -10% until 2030-05-31 12:00 UTC"
    assert change(early, context(at=AT + timedelta(days=30, microseconds=-1))) == -1_000
    assert early.adjust(context(at=AT + timedelta(days=30)), 10_000) is None


def test_early_bird_reads_offsets_and_applies_to_the_running_price() -> None:
    # 14:00 in Berlin (+02:00) is 12:00 UTC
    early = EarlyBird.from_settings(
        {"tiers": [{"until": "2030-05-01T14:00:00+02:00", "percent_off": 15}]}
    )

    assert change(early, context(at=AT - timedelta(seconds=1)), unit_price=1_005) == -151
    assert early.adjust(context(at=AT), 1_005) is None


def test_early_bird_ties_go_to_the_first_listed() -> None:
    until = iso(AT + timedelta(days=1))
    early = EarlyBird.from_settings(
        {"tiers": [{"until": until, "percent_off": 5}, {"until": until, "percent_off": 50}]}
    )

    assert change(early, context()) == -500


# ---------------------------------------------------------------------------------------
# Quantity tiers
# ---------------------------------------------------------------------------------------

STEPS = {
    "steps": [
        {"after_sold": 200, "price_change": 1_500},
        {"after_sold": 100, "price_change": 500},
        {"after_percent_sold": 90, "price": 20_000, "label": "Last tickets"},
    ]
}


@pytest.mark.parametrize(
    ("sold", "expected"),
    [(0, None), (99, None), (100, 500), (199, 500), (200, 1_500), (269, 1_500)],
)
def test_quantity_tiers_step_by_units_sold_so_far(sold, expected) -> None:
    tiers = QuantityTiers.from_settings(STEPS)

    assert change(tiers, context(sold=sold, capacity=300)) == expected


def test_quantity_tiers_percent_of_capacity_rounds_up_to_whole_units() -> None:
    tiers = QuantityTiers.from_settings(STEPS)

    # 90 % of 300 is 270 units; an absolute price replaces the base price (10 000)
    last = tiers.adjust(context(sold=270, capacity=300), 12_000)
    assert (last.stage, last.code, last.label, last.amount) == (
        PriceStage.DYNAMIC,
        "quantity-tiers",
        "Last tickets",
        10_000,
    )
    # 90 % of 301 is 270.9: the step starts at 271
    assert change(tiers, context(sold=270, capacity=301)) == 1_500
    assert change(tiers, context(sold=271, capacity=301)) == 10_000
    # with no known capacity a percentage step cannot apply
    assert change(tiers, context(sold=290, capacity=None)) == 1_500


def test_quantity_tiers_without_sales_data_do_nothing() -> None:
    tiers = QuantityTiers.from_settings(STEPS)

    assert tiers.adjust(context(sold=None), 10_000) is None
    assert change(tiers, context(sold=100)) == 500  # default label below
    assert tiers.adjust(context(sold=100), 10_000).label == "Price step after 100 sold"


def test_quantity_tiers_absolute_price_without_base_price_replaces_the_running_price() -> None:
    tiers = QuantityTiers.from_settings({"steps": [{"after_sold": 0, "price": 7_500}]})

    assert change(tiers, context(base_price=None), unit_price=9_000) == -1_500


# ---------------------------------------------------------------------------------------
# Demand surge
# ---------------------------------------------------------------------------------------

SURGE = {"window_minutes": 30, "threshold": 20, "percent": 5, "max_percent": 25}


@pytest.mark.parametrize(
    ("recent", "expected"),
    [(0, None), (19, None), (20, 500), (39, 500), (40, 1_000), (100, 2_500), (10_000, 2_500)],
)
def test_demand_surge_adds_percent_per_threshold_up_to_the_cap(recent, expected) -> None:
    surge = DemandSurge.from_settings(SURGE)

    assert change(surge, context(recent_sales={30: recent, 60: 10_000})) == expected


def test_demand_surge_cap_holds_whatever_the_demand() -> None:
    surge = DemandSurge.from_settings({**SURGE, "max_percent": 12})

    for recent in range(0, 2_000, 7):
        assert surge.surge_percent(recent) <= 12
    adjustment = surge.adjust(context(recent_sales={30: 10**9}), 10_005)
    assert (adjustment.label, adjustment.amount) == ("High demand +12%", 1_201)  # 1 200.6


def test_demand_surge_needs_the_count_of_its_own_window() -> None:
    surge = DemandSurge.from_settings(SURGE)

    assert surge.adjust(context(recent_sales={60: 1_000}), 10_000) is None
    assert surge.adjust(context(), 10_000) is None


# ---------------------------------------------------------------------------------------
# Time to event
# ---------------------------------------------------------------------------------------

TIME = {
    "tiers": [
        {"hours_before": 48, "percent_change": 15},
        {"hours_before": 6, "percent_change": -20, "label": "Last-minute deal"},
        {"hours_before": 24, "percent_change": 25},
    ]
}


@pytest.mark.parametrize(
    ("before_start", "expected"),
    [
        (timedelta(hours=48, seconds=1), None),
        (timedelta(hours=48), 1_500),  # the tier's first instant is included
        (timedelta(hours=24, seconds=1), 1_500),
        (timedelta(hours=24), 2_500),
        (timedelta(hours=6), -2_000),
        (timedelta(0), -2_000),
        (-timedelta(hours=1), -2_000),  # started: the closest tier still applies
    ],
)
def test_time_to_event_closest_tier_applies(before_start, expected) -> None:
    timing = TimeToEvent.from_settings(TIME)

    assert change(timing, context(starts_at=AT + before_start)) == expected


def test_time_to_event_labels_and_needs_a_start() -> None:
    timing = TimeToEvent.from_settings(TIME)

    surcharge = timing.adjust(context(starts_at=AT + timedelta(hours=30)), 10_000)
    assert (surcharge.stage, surcharge.code, surcharge.label) == (
        PriceStage.DYNAMIC,
        "time-to-event",
        "Within 48 hours of the event +15%",
    )
    deal = timing.adjust(context(starts_at=AT + timedelta(hours=1)), 10_000)
    assert deal.label == "Last-minute deal"
    assert timing.adjust(context(), 10_000) is None


# ---------------------------------------------------------------------------------------
# Plugins, schemas and invalid settings
# ---------------------------------------------------------------------------------------


VALID = {"early-bird": EARLY, "quantity-tiers": STEPS, "demand-surge": SURGE, "time-to-event": TIME}


@pytest.mark.parametrize("slug", sorted(PLUGINS))
def test_each_strategy_is_a_plugin_found_through_its_entry_point(slug) -> None:
    manager = create_plugin_manager()

    record = manager.record(slug)
    assert record is not None and record.status is PluginStatus.LOADED
    assert record.plugin is PLUGINS[slug]
    assert record.source.startswith(f"entry point {PLUGINS[slug].__name__} (ticketing ")
    assert record.metadata.category in (PluginCategory.TICKETING, PluginCategory.MARKETING)
    assert validate_metadata(PLUGINS[slug].METADATA, expected_slug=slug) is record.metadata
    jsonschema.Draft202012Validator.check_schema(record.metadata.settings_schema)


INVALID = [
    ("early-bird", {"tiers": []}),
    ("early-bird", {"tiers": [{"until": "2030-05-01T12:00:00", "percent_off": 10}]}),  # no offset
    ("early-bird", {"tiers": [{"until": "2030-02-30T12:00:00Z", "percent_off": 10}]}),
    ("early-bird", {"tiers": [{"until": "2030-05-01T12:00:00Z", "percent_off": 101}]}),
    ("early-bird", [{"until": "2030-05-01T12:00:00Z", "percent_off": 10}]),
    ("quantity-tiers", {"steps": [{"after_sold": 10}]}),  # no change
    ("quantity-tiers", {"steps": [{"after_sold": 10, "after_percent_sold": 5, "price": 1}]}),
    ("quantity-tiers", {"steps": [{"after_sold": 10, "price_change": 1, "price": 1}]}),
    ("quantity-tiers", {"steps": [{"after_sold": -1, "price_change": 100}]}),
    ("quantity-tiers", {"steps": [{"after_sold": 1, "price_change": 1.5}]}),
    ("demand-surge", {**SURGE, "threshold": 0}),
    ("demand-surge", {**SURGE, "percent": "5"}),
    ("demand-surge", {key: value for key, value in SURGE.items() if key != "max_percent"}),
    ("demand-surge", {**SURGE, "surprise": True}),
    ("time-to-event", {"tiers": [{"hours_before": 24}]}),
    ("time-to-event", {"tiers": [{"hours_before": 24, "percent_change": -101}]}),
    ("time-to-event", "48h +15%"),
]


STRATEGIES = {
    "early-bird": EarlyBird,
    "quantity-tiers": QuantityTiers,
    "demand-surge": DemandSurge,
    "time-to-event": TimeToEvent,
}


async def validate(manager, pricing) -> list[str]:
    """The write check for an organization that has every default plugin on."""
    return await validate_pricing_settings(hooks_of(manager), uuid.UUID(int=1), pricing)


@pytest.mark.parametrize(("slug", "settings"), INVALID)
async def test_invalid_settings_are_ignored_and_logged_at_quote_time(slug, settings, caplog):
    manager = create_plugin_manager()
    valid = "quantity-tiers" if slug == "demand-surge" else "demand-surge"
    line = context({slug: settings, valid: VALID[valid]}, sold=150, recent_sales={30: 40})

    with caplog.at_level(logging.WARNING):
        quote = await quote_line(hooks_of(manager), line)

    # the valid strategy still applies; the invalid one is left out, with a warning
    assert [a.code for a in quote.adjustments] == [valid]
    warnings = [r for r in caplog.records if getattr(r, "plugin", None) == slug]
    assert [r.getMessage() for r in warnings] == ["invalid pricing settings ignored"]
    assert warnings[0].ticket_type_id == str(line.ticket_type_id)
    with pytest.raises(ValueError) as raised:
        STRATEGIES[slug].from_settings(settings)
    assert type(raised.value).__name__ == "InvalidSettings"


@pytest.mark.parametrize(("slug", "settings"), INVALID)
async def test_invalid_settings_are_refused_when_written(slug, settings) -> None:
    manager = create_plugin_manager()

    problems = await validate(manager, {slug: settings})

    assert problems and all(problem.startswith(slug) for problem in problems)


async def test_valid_settings_pass_the_write_check_and_unknown_strategies_do_not() -> None:
    manager = create_plugin_manager()

    assert await validate(manager, VALID) == []
    assert await validate(manager, {}) == []
    assert await validate(manager, {"identity": {}, "nope": {}}) == [
        "identity: no pricing strategy of that name is installed",
        "nope: no pricing strategy of that name is installed",
    ]
    assert await validate(manager, ["early-bird"]) == [
        "pricing must be an object keyed by strategy slug"
    ]
    assert await validate(manager, {"demand-surge": {**SURGE, "threshold": 0}}) == [
        "demand-surge.threshold: 0 is less than the minimum of 1"
    ]


def test_integral_numbers_stay_integers() -> None:
    # JSON Schema counts 5.0 as an integer; JSONB may hand it back as a float
    surge = DemandSurge.from_settings(
        {"window_minutes": 30.0, "threshold": 20.0, "percent": 5.0, "max_percent": 25.0}
    )

    adjustment = surge.adjust(context(recent_sales={30: 40}), 10_005)
    assert adjustment.amount == 1_001 and type(adjustment.amount) is int
    assert adjustment.label == "High demand +10%"
    assert sales_windows({"demand-surge": {"window_minutes": 30.0}}) == [30, 60]


async def test_no_settings_no_adjusters() -> None:
    """Without strategy settings (and without a promo code) nothing adjusts the price."""
    hooks = hooks_of(create_plugin_manager())

    bare = PricingContext(uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), 1, "EUR", AT)
    lines = [bare, *(context(pricing) for pricing in ({}, {"other": {}}, "x", ["early-bird"]))]
    for line in lines:
        answers = await hooks.answers(
            "ticketing_pricing_adjusters", organization_id=line.organization_id, context=line
        )
        assert len(answers) >= len(PLUGINS) and all(answer == [] for _slug, answer in answers)


# ---------------------------------------------------------------------------------------
# Composition through kernel.pricing.quote_line
# ---------------------------------------------------------------------------------------

EVERYTHING = {
    "early-bird": {"tiers": [{"until": iso(AT + timedelta(days=1)), "percent_off": 20}]},
    "quantity-tiers": {"steps": [{"after_sold": 100, "price_change": 500}]},
    "demand-surge": {"window_minutes": 60, "threshold": 10, "percent": 5, "max_percent": 15},
    "time-to-event": {"tiers": [{"hours_before": 48, "percent_change": 15}]},
}


def everything(**overrides: Any) -> PricingContext:
    state = {
        "sold": 150,
        "capacity": 500,
        "recent_sales": {60: 25},
        "starts_at": AT + timedelta(hours=30),
        "quantity": 2,
    }
    state.update(overrides)
    return context(EVERYTHING, **state)


async def test_strategies_compose_by_stage_then_code_with_a_full_breakdown() -> None:
    manager = create_plugin_manager()

    quote = await quote_line(hooks_of(manager), everything())

    # 10 000 -> surge +10 % (25 sales, two multiples of 10) = 11 000 -> step +500 = 11 500
    # -> 30 h before: +15 % = 13 225 -> early bird -20 % = 10 580
    assert [(a.stage, a.code, a.label, a.amount) for a in quote.adjustments] == [
        (PriceStage.DYNAMIC, "demand-surge", "High demand +10%", 1_000),
        (PriceStage.DYNAMIC, "quantity-tiers", "Price step after 100 sold", 500),
        (PriceStage.DYNAMIC, "time-to-event", "Within 48 hours of the event +15%", 1_725),
        (PriceStage.DISCOUNT, "early-bird", "Early bird -20% until 2030-05-02 12:00 UTC", -2_645),
    ]
    assert quote.base_unit_price == 10_000
    assert quote.unit_price == 10_000 + sum(a.amount for a in quote.adjustments) == 10_580
    assert quote.total == 21_160


async def test_the_same_state_gives_the_same_quote_and_a_new_state_a_new_one() -> None:
    manager = create_plugin_manager()

    first = await quote_line(hooks_of(manager), everything())
    second = await quote_line(hooks_of(create_plugin_manager()), everything())
    busier = await quote_line(hooks_of(manager), everything(recent_sales={60: 1_000}))  # capped
    fewer_sold = await quote_line(hooks_of(manager), everything(sold=99))
    later = await quote_line(hooks_of(manager), everything(at=AT + timedelta(days=1)))

    assert first == second
    assert busier.adjustments[0].amount == 1_500 and busier.unit_price > first.unit_price
    assert [a.code for a in fewer_sold.adjustments] == [
        "demand-surge",
        "time-to-event",
        "early-bird",
    ]
    assert [a.code for a in later.adjustments] == [
        "demand-surge",
        "quantity-tiers",
        "time-to-event",
    ]


async def test_a_strategy_that_would_go_below_zero_is_clamped_by_the_kernel() -> None:
    manager = create_plugin_manager()
    line = context(
        {
            "quantity-tiers": {"steps": [{"after_sold": 0, "price_change": -15_000}]},
            "early-bird": {"tiers": [{"until": iso(AT + timedelta(days=1)), "percent_off": 50}]},
        }
    )

    quote = await quote_line(hooks_of(manager), line)

    assert [(a.code, a.amount) for a in quote.adjustments] == [("quantity-tiers", -10_000)]
    assert quote.unit_price == 0


async def test_the_catalog_base_price_comes_from_the_context() -> None:
    manager = create_plugin_manager()

    assert (await quote_line(hooks_of(manager), context(base_price=4_500))).unit_price == 4_500
    assert catalog_base_price(context(base_price=True)) is None
    assert catalog_base_price(context(base_price=None)) is None
