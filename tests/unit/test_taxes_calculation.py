"""The tax of a line: exact splits, one rounding per line in the organization's mode,
business buyers, well-formed tax ids, and the hook as the kernel calls it."""

from __future__ import annotations

import asyncio
import uuid
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest

import builtin_plugins.taxes
from builtin_plugins.taxes import runtime, service
from builtin_plugins.taxes.calculation import (
    EXEMPT_NOTE,
    REVERSE_CHARGE_NOTE,
    line_tax,
    rate_text,
    tax_amount,
)
from builtin_plugins.taxes.models import BusinessTreatment, Rounding, TaxBasis
from builtin_plugins.taxes.rules import Rule
from builtin_plugins.taxes.tax_ids import normalize_tax_id
from kernel.contracts import LineQuote, LineTax, PricingContext, TaxableParty
from kernel.plugin_manager import KernelPluginManager
from kernel.pricing import tax_line
from tests.support.hook_caller import hooks_of

EVEN, UP = Rounding.HALF_EVEN, Rounding.HALF_UP
CONSUMER = TaxableParty(country="DE")


def rule(rate: str = "19", *, inclusive: bool = True, **changes) -> Rule:
    base = Rule(
        id=uuid.UUID(int=7),
        name=f"VAT {rate}%",
        rate=Decimal(rate),
        country="DE",
        region=None,
        basis=TaxBasis.EVENT,
        price_includes_tax=inclusive,
        b2b=BusinessTreatment.CHARGE,
        event_id=None,
        ticket_type_ids=frozenset(),
        priority=0,
        created_at=datetime(2030, 1, 1, tzinfo=UTC),
    )
    return replace(base, **changes)


def split(tax: LineTax) -> tuple[int, int, int]:
    return tax.net, tax.tax, tax.gross


# -- exact examples -------------------------------------------------------------------------


def test_an_inclusive_price_contains_the_tax() -> None:
    assert split(line_tax(1190, rule("19"), CONSUMER, rounding=EVEN)) == (1000, 190, 1190)
    # 1000 * 19 / 119 = 159.66...: the buyer still pays 1000, of which 160 is tax
    assert split(line_tax(1000, rule("19"), CONSUMER, rounding=EVEN)) == (840, 160, 1000)


def test_an_exclusive_price_gets_the_tax_added() -> None:
    # 999 * 7.25 / 100 = 72.4275
    taxed = line_tax(999, rule("7.25", inclusive=False), CONSUMER, rounding=EVEN)
    assert split(taxed) == (999, 72, 1071)
    assert (taxed.rate, taxed.inclusive, taxed.label) == ("7.25", False, "VAT 7.25%")
    assert taxed.rule == str(uuid.UUID(int=7))
    assert taxed.note == ""


def test_a_zero_rate_taxes_nothing_but_names_its_rule() -> None:
    taxed = line_tax(2500, rule("0"), CONSUMER, rounding=EVEN)
    assert split(taxed) == (2500, 0, 2500)
    assert (taxed.rate, taxed.label) == ("0", "VAT 0%")


@pytest.mark.parametrize(
    ("total", "rate", "inclusive", "half_even", "half_up"),
    [
        (150, "19", False, 28, 29),  # 28.5: the two modes differ
        (25, "10", False, 2, 3),  # 2.5
        (35, "10", False, 4, 4),  # 3.5: even is up here
        (5, "100", True, 2, 3),  # 5 * 100 / 200 = 2.5 inside an inclusive price
        (1190, "19", True, 190, 190),  # exact: no rounding at all
    ],
)
def test_a_half_rounds_as_the_organization_chose(
    total: int, rate: str, inclusive: bool, half_even: int, half_up: int
) -> None:
    assert tax_amount(total, Decimal(rate), inclusive=inclusive, rounding=EVEN) == half_even
    assert tax_amount(total, Decimal(rate), inclusive=inclusive, rounding=UP) == half_up
    taxed = line_tax(total, rule(rate, inclusive=inclusive), CONSUMER, rounding=UP)
    assert taxed.tax == half_up
    assert taxed.net + taxed.tax == taxed.gross


def test_a_rate_with_four_decimals_is_exact() -> None:
    # 100000 * 8.8750 / 100 = 8875 exactly; 10001 * 8.875 / 100 = 887.58875 -> 888
    assert tax_amount(100_000, Decimal("8.8750"), inclusive=False, rounding=EVEN) == 8875
    assert tax_amount(10_001, Decimal("8.875"), inclusive=False, rounding=EVEN) == 888


@pytest.mark.parametrize(
    ("stored", "shown"),
    [("19.0000", "19"), ("7.2500", "7.25"), ("0.0000", "0"), ("100", "100"), ("10", "10")],
)
def test_the_rate_is_a_plain_decimal_string(stored: str, shown: str) -> None:
    assert rate_text(Decimal(stored)) == shown


# -- business buyers ------------------------------------------------------------------------


BUSINESS_DE = TaxableParty(country="DE", tax_id="DE 123.456-789")
BUSINESS_FR = TaxableParty(country="FR", tax_id="FR12345678901")


def test_an_exempt_business_pays_the_inclusive_price_without_its_tax() -> None:
    exempt = rule("19", b2b=BusinessTreatment.EXEMPT)
    taxed = line_tax(1190, exempt, BUSINESS_DE, rounding=EVEN)
    assert split(taxed) == (1000, 0, 1000)
    assert (taxed.note, taxed.rate, taxed.inclusive) == (EXEMPT_NOTE, "0", True)
    # a consumer under the same rule pays the tax
    assert split(line_tax(1190, exempt, CONSUMER, rounding=EVEN)) == (1000, 190, 1190)


def test_an_exempt_business_pays_the_exclusive_price_as_listed() -> None:
    exempt = rule("19", inclusive=False, b2b=BusinessTreatment.EXEMPT)
    assert split(line_tax(1000, exempt, BUSINESS_DE, rounding=EVEN)) == (1000, 0, 1000)


def test_reverse_charge_applies_only_across_the_border() -> None:
    reverse = rule("19", b2b=BusinessTreatment.REVERSE_CHARGE)
    abroad = line_tax(1190, reverse, BUSINESS_FR, rounding=EVEN)
    assert split(abroad) == (1000, 0, 1000)
    assert abroad.note == REVERSE_CHARGE_NOTE
    # a German business under a German rule pays German VAT
    home = line_tax(1190, reverse, BUSINESS_DE, rounding=EVEN)
    assert split(home) == (1000, 190, 1190)
    assert home.note == ""
    # so does a buyer abroad without a tax id, or with one that is not well-formed
    assert line_tax(1190, reverse, TaxableParty(country="FR"), rounding=EVEN).tax == 190
    bogus = TaxableParty(country="FR", tax_id="x!")
    assert line_tax(1190, reverse, bogus, rounding=EVEN).tax == 190
    # and without a known buyer country there is no border to cross
    unknown = TaxableParty(tax_id="FR12345678901")
    assert line_tax(1190, reverse, unknown, rounding=EVEN).tax == 190


def test_a_charging_rule_taxes_businesses_too() -> None:
    assert line_tax(1190, rule("19"), BUSINESS_FR, rounding=EVEN).tax == 190


@pytest.mark.parametrize(
    ("given", "normalized"),
    [
        ("DE123456789", "DE123456789"),
        ("de 123.456-789", "DE123456789"),
        ("123456789", "123456789"),
        ("GB 123 4567 89", "GB123456789"),
        ("ABCD", "ABCD"),
        ("DE12345678901234567890", "DE12345678901234567890"),  # prefix + 20
        ("", None),
        (None, None),
        ("DE1", None),  # too short
        ("1234567890123456789012345", None),  # too long
        ("DE123_456", None),
        ("DE12345678€", None),
    ],
)
def test_a_tax_id_is_checked_for_its_shape_only(given: str | None, normalized: str | None) -> None:
    assert normalize_tax_id(given) == normalized


# -- the hook, as the kernel calls it --------------------------------------------------------


class FakeDatabase:
    @asynccontextmanager
    async def transaction(self):
        yield None


@pytest.fixture
async def taxes_plugin(monkeypatch: pytest.MonkeyPatch):
    """The taxes plugin started on this loop, its rules coming from ``rules``."""
    rules: list[Rule] = []
    loads: list[uuid.UUID] = []

    async def organization_taxes(session, organization_id):
        loads.append(organization_id)
        return service.OrganizationTaxes(rules=tuple(rules), rounding=EVEN)

    monkeypatch.setattr(service, "organization_taxes", organization_taxes)
    manager = KernelPluginManager()
    manager.add_plugin(builtin_plugins.taxes, slug="taxes")
    hooks = hooks_of(manager)
    kernel = SimpleNamespace(lookups=FakeDatabase(), services={}, hooks=hooks)
    hooks.kernel = kernel
    await hooks.call_everywhere("ticketing_startup", kernel=kernel)
    try:
        yield hooks, rules, loads
    finally:
        await hooks.call_everywhere("ticketing_shutdown", kernel=kernel)


def quoted(unit_price: int, quantity: int) -> LineQuote:
    context = PricingContext(
        organization_id=uuid.UUID(int=1),
        event_id=uuid.UUID(int=2),
        ticket_type_id=uuid.UUID(int=3),
        quantity=quantity,
        currency="EUR",
        at=datetime(2030, 5, 1, tzinfo=UTC),
        attributes={"venue_country": "DE", "venue_region": "Berlin"},
    )
    return LineQuote(
        context=context, base_unit_price=unit_price, adjustments=(), unit_price=unit_price
    )


async def test_the_tax_is_rounded_once_for_the_whole_line(taxes_plugin) -> None:
    hooks, rules, _ = taxes_plugin
    rules.append(rule("19", inclusive=False))

    taxed = await tax_line(hooks, quoted(999, 3), CONSUMER)

    # 2997 * 19 / 100 = 569.43 -> 569; rounding each unit (189.81 -> 190) would give 570
    assert split(taxed) == (2997, 569, 3566)
    assert tax_amount(999, Decimal(19), inclusive=False, rounding=EVEN) * 3 == 570


async def test_an_inclusive_line_and_an_exempt_buyer_pass_the_kernels_check(taxes_plugin) -> None:
    hooks, rules, _ = taxes_plugin
    rules.append(rule("19", b2b=BusinessTreatment.EXEMPT))

    consumer = await tax_line(hooks, quoted(1190, 2), CONSUMER)
    business = await tax_line(hooks, quoted(1190, 2), BUSINESS_DE)

    assert split(consumer) == (2000, 380, 2380)
    assert split(business) == (2000, 0, 2000)


async def test_no_rule_leaves_the_line_untaxed_and_costs_one_load(taxes_plugin) -> None:
    hooks, _, loads = taxes_plugin

    for _ in range(5):
        untaxed = await tax_line(hooks, quoted(2500, 2), CONSUMER)
        assert (untaxed.rule, split(untaxed)) == (None, (5000, 0, 5000))

    assert loads == [uuid.UUID(int=1)]  # the empty answer is cached too


def test_the_hook_refuses_to_run_unstarted() -> None:
    """Rather than sell untaxed: the kernel calling the hook never started the plugin."""
    manager = KernelPluginManager()
    manager.add_plugin(builtin_plugins.taxes, slug="taxes")
    hooks = hooks_of(manager)
    hooks.kernel = SimpleNamespace(services={})
    with pytest.raises(runtime.TaxesNotStarted):
        asyncio.run(tax_line(hooks, quoted(2500, 1), CONSUMER))
