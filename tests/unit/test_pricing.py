"""Quoting a line: the base price hook, then adjusters from every plugin, in a fixed order."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from types import ModuleType

import pytest

from kernel.contracts import LineQuote, PriceAdjustment, PriceStage, PricingContext
from kernel.markers import hookimpl
from kernel.plugin_manager import KernelPluginManager, create_plugin_manager
from kernel.plugin_metadata import PluginCategory, PluginMetadata
from kernel.pricing import NoBasePrice, quote_line
from kernel.problems import Problem
from tests.support.hook_caller import hooks_of

VIP = uuid.UUID("00000000-0000-0000-0000-0000000000a1")
STANDARD = uuid.UUID("00000000-0000-0000-0000-0000000000a2")


def context(ticket_type_id: uuid.UUID = STANDARD, quantity: int = 2) -> PricingContext:
    return PricingContext(
        organization_id=uuid.UUID(int=1),
        event_id=uuid.UUID(int=2),
        ticket_type_id=ticket_type_id,
        quantity=quantity,
        currency="EUR",
        at=datetime(2030, 5, 1, 20, 0, tzinfo=UTC),
    )


@dataclass(frozen=True)
class Percent:
    """Changes the running unit price by ``percent`` (negative for a discount)."""

    stage: PriceStage
    code: str
    percent: int

    def adjust(self, context: PricingContext, unit_price: int) -> PriceAdjustment:
        amount = unit_price * self.percent // 100
        return PriceAdjustment(self.stage, self.code, f"{self.percent:+d}%", amount)


@dataclass(frozen=True)
class Fixed:
    """Changes the unit price by a fixed ``amount`` of minor units."""

    stage: PriceStage
    code: str
    amount: int

    def adjust(self, context: PricingContext, unit_price: int) -> PriceAdjustment:
        return PriceAdjustment(self.stage, self.code, self.code.replace("-", " "), self.amount)


@dataclass(frozen=True)
class Nothing:
    """An adjuster that does not apply to this line."""

    stage: PriceStage
    code: str

    def adjust(self, context: PricingContext, unit_price: int) -> None:
        return None


def plugin(slug: str, **hooks: Callable) -> ModuleType:
    module = ModuleType(f"pricing_plugin_{slug.replace('-', '_')}")
    module.METADATA = PluginMetadata(
        slug=slug, name=slug, version="1.0", category=PluginCategory.MARKETING
    )
    for name, function in hooks.items():
        setattr(module, name, function)
    return module


def catalog(price: int) -> ModuleType:
    """The default price list: answers ``trylast`` for every ticket type."""
    return plugin(
        "catalog",
        ticketing_pricing_base_price=hookimpl(trylast=True)(lambda context: price),
    )


def vip_prices(price: int) -> ModuleType:
    """Prices the VIP ticket type only; lets the catalog answer for the rest."""

    @hookimpl
    def base_price(context):
        return price if context.ticket_type_id == VIP else None

    return plugin("vip-prices", ticketing_pricing_base_price=base_price)


def adjusters(slug: str, *found: object, is_async: bool = False) -> ModuleType:
    if is_async:

        async def offer(context):
            return list(found)
    else:

        def offer(context):
            return list(found)

    return plugin(slug, ticketing_pricing_adjusters=hookimpl(offer))


def manager(*plugins: ModuleType) -> KernelPluginManager:
    pm = create_plugin_manager(extra_plugins=plugins)
    # the builtin plugins come first (entry points); the test's own plugins after them
    assert [r.slug for r in pm.loaded if r.source == "internal"] == [
        p.METADATA.slug for p in plugins
    ]
    return pm


def breakdown(quote: LineQuote) -> list[tuple[str, int]]:
    return [(a.code, a.amount) for a in quote.adjustments]


# dynamic pricing (+10%) and a 10% promotion from one plugin; a fixed voucher and a
# booking fee from another (the async one).
DYNAMIC = adjusters(
    "dynamic",
    Percent(PriceStage.DISCOUNT, "promo-a", -10),
    Percent(PriceStage.DYNAMIC, "surge", 10),
)
FEES = adjusters(
    "fees",
    Fixed(PriceStage.FEE, "booking-fee", 250),
    Fixed(PriceStage.DISCOUNT, "promo-b", -1000),
    Nothing(PriceStage.DISCOUNT, "members-only"),
    is_async=True,
)
# 10 000 -> surge +1 000 -> promo-a -1 100 -> promo-b -1 000 -> booking fee +250
EXPECTED = [("surge", 1000), ("promo-a", -1100), ("promo-b", -1000), ("booking-fee", 250)]


async def test_base_price_comes_from_the_first_plugin_that_answers() -> None:
    pm = manager(vip_prices(25_000), catalog(10_000))

    vip = await quote_line(hooks_of(pm), context(VIP))
    standard = await quote_line(hooks_of(pm), context(STANDARD))

    assert (vip.base_unit_price, vip.unit_price, vip.total) == (25_000, 25_000, 50_000)
    assert (standard.base_unit_price, standard.unit_price) == (10_000, 10_000)
    assert vip.adjustments == standard.adjustments == ()


async def test_a_free_ticket_is_priced_at_zero_not_refused() -> None:
    pm = manager(catalog(0))

    quote = await quote_line(hooks_of(pm), context())

    assert (quote.base_unit_price, quote.unit_price, quote.total) == (0, 0, 0)


@pytest.mark.parametrize("order", ["dynamic-first", "fees-first"])
async def test_adjusters_compose_by_stage_then_code_whatever_the_plugin_order(order) -> None:
    plugins = [DYNAMIC, FEES] if order == "dynamic-first" else [FEES, DYNAMIC]
    pm = manager(catalog(10_000), *plugins)

    quote = await quote_line(hooks_of(pm), context(quantity=3))

    assert breakdown(quote) == EXPECTED
    assert [a.stage for a in quote.adjustments] == [
        PriceStage.DYNAMIC,
        PriceStage.DISCOUNT,
        PriceStage.DISCOUNT,
        PriceStage.FEE,
    ]
    assert quote.adjustments[1].label == "-10%"
    assert quote.base_unit_price == 10_000
    assert quote.unit_price == 10_000 + sum(amount for _, amount in EXPECTED) == 9_150
    assert quote.total == 27_450


async def test_a_quote_is_deterministic() -> None:
    pm = manager(catalog(10_000), FEES, DYNAMIC)
    reordered = manager(DYNAMIC, catalog(10_000), FEES)

    first = await quote_line(hooks_of(pm), context())
    second = await quote_line(hooks_of(pm), context())
    third = await quote_line(hooks_of(reordered), context())

    assert first == second == third
    assert breakdown(first) == EXPECTED


async def test_the_price_never_drops_below_zero() -> None:
    pm = manager(
        catalog(3_000),
        adjusters(
            "generous",
            Fixed(PriceStage.DISCOUNT, "a-voucher", -5_000),
            Fixed(PriceStage.DISCOUNT, "b-voucher", -500),
            Fixed(PriceStage.FEE, "booking-fee", 250),
        ),
    )

    quote = await quote_line(hooks_of(pm), context())

    # the first voucher takes the price to zero (not -2 000); the second has nothing left
    # to take and is not listed; the fee still applies on top.
    assert breakdown(quote) == [("a-voucher", -3_000), ("booking-fee", 250)]
    assert quote.unit_price == 250
    assert quote.total == 500


async def test_discounts_alone_end_at_zero() -> None:
    pm = manager(catalog(1_000), adjusters("voucher", Percent(PriceStage.DISCOUNT, "all", -150)))

    quote = await quote_line(hooks_of(pm), context())

    assert breakdown(quote) == [("all", -1_000)]
    assert (quote.unit_price, quote.total) == (0, 0)


async def test_a_line_nobody_prices_is_a_422_problem() -> None:
    # the VIP price list answers None for standard tickets and there is no catalog
    pm = manager(vip_prices(25_000), DYNAMIC)
    line = context(STANDARD)

    with pytest.raises(NoBasePrice) as raised:
        await quote_line(hooks_of(pm), line)

    problem = raised.value
    assert isinstance(problem, Problem)
    assert (problem.status, problem.code) == (422, "no-price")
    assert str(STANDARD) in problem.detail


async def test_no_pricing_plugin_at_all_is_refused_too() -> None:
    with pytest.raises(NoBasePrice):
        await quote_line(hooks_of(create_plugin_manager()), context())
