"""Promo codes without a database: the discount arithmetic and its labels, what a code's
terms decide (validity window, event, ticket types, per-buyer identity), how the
adjuster composes with the kernel's quote, and that pricing without a code reads nothing."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from builtin_plugins import promotions
from builtin_plugins.promotions import pricing
from builtin_plugins.promotions.discount import (
    ADJUSTER_CODE,
    PromoDiscount,
    money_label,
    percent_discount,
    percent_label,
)
from builtin_plugins.promotions.terms import PromoTerms, buyer_key, normalize_code
from kernel.contracts import (
    CheckoutCart,
    CheckoutLine,
    Money,
    PriceAdjustment,
    PriceStage,
    PricingContext,
)
from kernel.markers import hookimpl
from kernel.plugin_context import PluginContext
from kernel.plugin_manager import create_plugin_manager
from kernel.plugin_metadata import PluginCategory, PluginMetadata
from kernel.pricing import quote_line
from tests.support.hook_caller import hooks_of

AT = datetime(2030, 5, 1, 12, 0, tzinfo=UTC)
ORG = uuid.UUID(int=1)
EVENT = uuid.UUID(int=2)
STANDARD = uuid.UUID(int=3)
VIP = uuid.UUID(int=4)
PRESALE = uuid.UUID(int=5)


def terms(**changes) -> PromoTerms:
    values = {
        "id": uuid.UUID(int=99),
        "organization_id": ORG,
        "event_id": EVENT,
        "code": "SPRING",
        "percent_off": 2000,
        "amount_off": None,
        "currency": None,
        "ticket_type_ids": frozenset(),
        "unlocks_ticket_type_ids": frozenset(),
        "max_uses": None,
        "max_uses_per_buyer": None,
        "used": 0,
        "valid_from": None,
        "valid_until": None,
        "active": True,
    }
    values.update(changes)
    return PromoTerms(**values)


def context(
    *, ticket_type_id: uuid.UUID = STANDARD, currency: str = "EUR", promo_code: str | None = None
) -> PricingContext:
    return PricingContext(
        organization_id=ORG,
        event_id=EVENT,
        ticket_type_id=ticket_type_id,
        quantity=2,
        currency=currency,
        at=AT,
        promo_code=promo_code,
        attributes={"base_price": 2500, "pricing": {}},
    )


# -- arithmetic and labels -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("unit_price", "basis_points", "discount"),
    [
        (2500, 2000, 500),  # 20 % of 25.00
        (125, 5000, 62),  # 62.5: half to even goes down to 62
        (375, 5000, 188),  # 187.5: half to even goes up to 188
        (999, 3333, 333),  # 332.9667 rounds to the nearest cent
        (2500, 10_000, 2500),  # 100 %: free
        (49, 1, 0),  # 0.0049 of a cent: nothing
        (5000, 1, 0),  # 0.5 of a cent: half to even is 0
        (15_000, 1, 2),  # 1.5 cents: half to even is 2
    ],
)
def test_a_percentage_is_taken_in_basis_points_rounded_half_to_even(
    unit_price: int, basis_points: int, discount: int
) -> None:
    assert percent_discount(unit_price, basis_points) == discount


def test_labels_say_the_code_and_the_discount_as_a_buyer_reads_them() -> None:
    assert percent_label(2000) == "20%"
    assert percent_label(1250) == "12.5%"
    assert percent_label(1) == "0.01%"
    assert money_label(500, "EUR") == "5.00 EUR"
    assert money_label(5, "USD") == "0.05 USD"
    assert money_label(500, "JPY") == "500 JPY"
    assert money_label(1500, "KWD") == "1.500 KWD"
    assert PromoDiscount(terms()).label == "Promo code SPRING: -20%"
    fixed = terms(percent_off=None, amount_off=750, currency="EUR")
    assert PromoDiscount(fixed).label == "Promo code SPRING: -7.50 EUR"


def test_the_adjuster_takes_its_share_of_the_running_price() -> None:
    adjustment = PromoDiscount(terms(percent_off=1000)).adjust(context(), 1995)
    assert adjustment == PriceAdjustment(
        PriceStage.DISCOUNT, ADJUSTER_CODE, "Promo code SPRING: -10%", -200
    )  # 199.5 rounds half to even: 200


def test_a_fixed_discount_applies_only_in_its_currency() -> None:
    fixed = PromoDiscount(terms(percent_off=None, amount_off=500, currency="EUR"))
    assert fixed.adjust(context(), 2500).amount == -500
    assert fixed.adjust(context(currency="USD"), 2500) is None


# -- composed by the kernel's quote --------------------------------------------------------


class _CatalogAndCode:
    """A catalog answering the base price, and the code's adjuster for every line."""

    METADATA = PluginMetadata(
        slug="promo-unit-catalog", name="Catalog", version="1.0", category=PluginCategory.TICKETING
    )

    def __init__(self, code: PromoTerms, extra=()) -> None:
        self.code = code
        self.extra = list(extra)

    @hookimpl
    def ticketing_pricing_base_price(self, context):
        return context.attributes["base_price"]

    @hookimpl
    def ticketing_pricing_adjusters(self, context):
        return [PromoDiscount(self.code), *self.extra]


class _TenPercentEarlyBird:
    stage = PriceStage.DISCOUNT
    code = "early-bird"

    def adjust(self, context, unit_price):
        return PriceAdjustment(self.stage, self.code, "Early bird", -(unit_price // 10))


def _quote(code: PromoTerms, extra=()):
    manager = create_plugin_manager(group="none", extra_plugins=[_CatalogAndCode(code, extra)])
    return asyncio.run(quote_line(hooks_of(manager), context()))


def test_the_kernel_stops_a_fixed_discount_at_zero() -> None:
    line = _quote(terms(percent_off=None, amount_off=4000, currency="EUR"))
    assert line.unit_price == 0
    assert [a.amount for a in line.adjustments] == [-2500]
    assert line.total == 0


def test_the_organizations_cap_limits_any_codes_discount() -> None:
    line = context()
    half = PromoDiscount(terms(percent_off=5000), max_percent=30).adjust(line, 2500)
    assert half is not None and half.amount == -750
    assert half.label.endswith("-50% (at most 30%)")
    fixed = terms(percent_off=None, amount_off=2000, currency="EUR")
    assert PromoDiscount(fixed, max_percent=10).adjust(line, 2500).amount == -250
    under = PromoDiscount(terms(percent_off=2000), max_percent=30).adjust(line, 2500)
    assert (under.amount, under.label.endswith("-20%")) == (-500, True)
    assert PromoDiscount(terms(percent_off=2000), max_percent=0).adjust(line, 2500).amount == 0


def test_a_code_applies_after_the_early_bird_on_what_is_left() -> None:
    line = _quote(terms(percent_off=2000), extra=[_TenPercentEarlyBird()])
    assert [(a.code, a.amount) for a in line.adjustments] == [
        ("early-bird", -250),
        ("promo-code", -450),  # 20 % of 22.50
    ]
    assert line.unit_price == 1800
    assert line.stage_total(PriceStage.DISCOUNT) == -1400  # two tickets


# -- what a code's terms decide -----------------------------------------------------------


def test_the_validity_window_includes_its_start_and_excludes_its_end() -> None:
    window = terms(valid_from=AT, valid_until=AT + timedelta(days=1))
    assert window.valid_for(EVENT, AT)
    assert window.valid_for(EVENT, AT + timedelta(hours=23, minutes=59))
    assert not window.valid_for(EVENT, AT - timedelta(seconds=1))
    assert not window.valid_for(EVENT, AT + timedelta(days=1))


def test_a_code_is_valid_for_its_event_or_every_event_and_only_when_active() -> None:
    other_event = uuid.UUID(int=77)
    assert terms().valid_for(EVENT, AT)
    assert not terms().valid_for(other_event, AT)
    assert terms(event_id=None).valid_for(other_event, AT)
    assert not terms(active=False).valid_for(EVENT, AT)


def test_a_code_applies_to_its_ticket_types_and_those_it_unlocks() -> None:
    every = terms()
    limited = terms(ticket_type_ids=frozenset({STANDARD}), unlocks_ticket_type_ids={PRESALE})
    assert every.applies_to(VIP) and every.applies_to(STANDARD)
    assert limited.applies_to(STANDARD) and limited.applies_to(PRESALE)
    assert not limited.applies_to(VIP)
    lines = [
        CheckoutLine(STANDARD, 2, Money(2500, "EUR")),
        CheckoutLine(VIP, 3, Money(4000, "EUR")),
        CheckoutLine(PRESALE, 1, Money(1000, "EUR")),
    ]
    assert every.eligible_units(lines) == 6
    assert limited.eligible_units(lines) == 3
    in_dollars = terms(percent_off=None, amount_off=500, currency="USD")
    assert in_dollars.eligible_units(lines) == 0  # it could not discount a euro
    assert terms(percent_off=None, amount_off=500, currency="EUR").eligible_units(lines) == 6


def test_remaining_uses_never_go_below_zero() -> None:
    assert terms().remaining is None
    assert terms(max_uses=10, used=4).remaining == 6
    assert terms(max_uses=10, used=10).remaining == 0


def test_codes_are_matched_upper_case_and_junk_is_not_looked_up() -> None:
    assert normalize_code("  spring-24 ") == "SPRING-24"
    assert normalize_code("Early_Bird") == "EARLY_BIRD"
    for junk in (None, "", "ab", "SPRING 24", "50%OFF", "x" * 65, "ÄBC"):
        assert normalize_code(junk) is None


def test_a_buyer_is_their_account_else_their_email_in_lower_case() -> None:
    user = uuid.UUID(int=42)
    assert buyer_key(user, "Ann@Example.com") == f"user:{user}"
    assert buyer_key(None, " Ann@Example.COM ") == "email:ann@example.com"
    assert buyer_key(None, None) is None


# -- the plugin ----------------------------------------------------------------------------


class NoReader:
    """A lookups pool that refuses every read: a test that meets it looked a code up."""

    def sessions(self):
        raise RuntimeError("a code was looked up")


def test_buying_without_a_code_costs_no_lookup_and_no_coroutine() -> None:
    """The hooks answer at once, without touching the lookups pool."""
    ctx = PluginContext(
        kernel=SimpleNamespace(lookups=NoReader()), organization_id=ORG, plugin="promotions"
    )
    assert promotions.ticketing_pricing_adjusters(context(), ctx) == []
    cart = CheckoutCart(ORG, EVENT, None, (), Money(0, "EUR"))
    assert promotions.ticketing_checkout_validate(cart, ctx) is None

    async def priced_without_code():
        return await pricing.adjusters_for(NoReader(), context())

    assert asyncio.run(priced_without_code()) == []


def test_only_what_can_be_a_code_is_looked_up() -> None:
    async def priced_with_code():
        return await pricing.adjusters_for(NoReader(), context(promo_code="SPRING"))

    with pytest.raises(RuntimeError, match="looked up"):
        asyncio.run(priced_with_code())

    async def priced_with_junk():  # cannot be a code: refused without a lookup
        return await pricing.adjusters_for(NoReader(), replace(context(), promo_code="50% off"))

    assert asyncio.run(priced_with_junk()) == []


def test_the_plugin_grants_organizers_the_management_of_codes() -> None:
    (permission,) = promotions.ticketing_permissions()
    assert permission.name == "promotions:manage"
    assert permission.roles == ("organizer",)
    manager = create_plugin_manager()
    record = manager.record("promotions")
    assert record is not None and record.plugin is promotions
    hooks = {caller.name for caller in manager.get_hookcallers(promotions)}
    assert {
        "ticketing_pricing_adjusters",
        "ticketing_pricing_unlocked_ticket_types",
        "ticketing_checkout_validate",
        "ticketing_checkout_before_order_placed",
        "ticketing_event_subscriptions",
    } <= hooks
    topics = sorted(s.topic for s in promotions.ticketing_event_subscriptions())
    assert topics == ["order.cancelled", "order.expired"]
