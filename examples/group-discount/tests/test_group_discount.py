"""What an organizer who turned the group discount on sees: lines of at least
``min_quantity`` tickets cost ``percent_off`` % less each, smaller lines and other
organizations pay the list price. Run in the real kernel on PostgreSQL through the
``ticketing_*`` fixtures of ticketing-sdk's pytest plugin."""

from datetime import UTC, datetime
from uuid import UUID, uuid4

import group_discount
import pytest

from sdk import PriceStage, PricingContext, UnprocessableContent
from sdk.testing import check_plugin

LIST_PRICE = 4000  # 40.00 EUR a ticket


def line(organization_id: UUID, quantity: int) -> PricingContext:
    return PricingContext(
        organization_id=organization_id,
        event_id=uuid4(),
        ticket_type_id=uuid4(),
        quantity=quantity,
        currency="EUR",
        at=datetime(2030, 6, 1, tzinfo=UTC),
    )


def test_the_kernel_loads_it():
    assert check_plugin(group_discount, slug="group-discount") == []


@pytest.fixture
async def organizer(ticketing_new_organization, ticketing_enable_plugin):
    """An organization that turned the plugin on: 15 % off from 5 tickets."""
    organization = await ticketing_new_organization()
    await ticketing_enable_plugin(
        organization, "group-discount", {"min_quantity": 5, "percent_off": 15}
    )
    return organization


async def test_a_line_of_enough_tickets_costs_less_each(organizer, ticketing_quote_line):
    quote = await ticketing_quote_line(line(organizer.id, 5), list_price=LIST_PRICE)
    assert quote.unit_price == 3400
    assert quote.total == 17000
    [adjustment] = quote.adjustments
    assert (adjustment.stage, adjustment.code) == (PriceStage.DISCOUNT, "group-discount")
    assert adjustment.label == "Group discount: 15% off from 5 tickets"


async def test_a_smaller_line_pays_the_list_price(organizer, ticketing_quote_line):
    quote = await ticketing_quote_line(line(organizer.id, 4), list_price=LIST_PRICE)
    assert (quote.unit_price, quote.adjustments) == (LIST_PRICE, ())


async def test_an_organization_that_did_not_turn_it_on_gets_no_discount(
    organizer, ticketing_organization, ticketing_quote_line
):
    assert ticketing_organization.id != organizer.id
    quote = await ticketing_quote_line(line(ticketing_organization.id, 50), list_price=LIST_PRICE)
    assert (quote.unit_price, quote.adjustments) == (LIST_PRICE, ())


async def test_turned_off_again_it_stops_at_once(
    organizer, ticketing_enable_plugin, ticketing_quote_line
):
    await ticketing_enable_plugin(organizer, "group-discount", enabled=False)
    quote = await ticketing_quote_line(line(organizer.id, 20), list_price=LIST_PRICE)
    assert quote.unit_price == LIST_PRICE


async def test_without_settings_it_takes_10_percent_from_10_tickets(
    ticketing_organization, ticketing_enable_plugin, ticketing_call_hook
):
    await ticketing_enable_plugin(ticketing_organization, "group-discount")
    [[adjuster]] = await ticketing_call_hook(
        "ticketing_pricing_adjusters", ticketing_organization, context=line(uuid4(), 10)
    )
    assert adjuster.adjust(line(ticketing_organization.id, 10), 4000).amount == -400
    assert adjuster.adjust(line(ticketing_organization.id, 9), 4000) is None


@pytest.mark.parametrize(
    "settings, field",
    [
        ({"min_quantity": 1}, "/settings/min_quantity"),
        ({"percent_off": 0}, "/settings/percent_off"),
        ({"percent_off": 101}, "/settings/percent_off"),
        ({"percent_off": "15"}, "/settings/percent_off"),
        ({"discount": 15}, "/settings/discount"),
    ],
)
async def test_settings_an_organizer_gets_wrong_are_refused_and_change_nothing(
    ticketing_organization, ticketing_enable_plugin, ticketing_quote_line, settings, field
):
    with pytest.raises(UnprocessableContent) as refused:
        await ticketing_enable_plugin(ticketing_organization, "group-discount", settings)
    assert refused.value.extensions["field"] == field
    quote = await ticketing_quote_line(line(ticketing_organization.id, 20), list_price=LIST_PRICE)
    assert quote.unit_price == LIST_PRICE
