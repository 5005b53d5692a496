"""What a buyer of an organization that turned the order limit on meets: a cart of more
tickets than the organization allows is refused with a reason they can act on, a cart
within the limit goes through, and another organization's buyers are never limited.
Run in the real kernel on PostgreSQL through the ``ticketing_*`` fixtures of
ticketing-sdk's pytest plugin; ``sdk.pricing.checkout_vetoes`` is what checkout asks."""

from uuid import UUID, uuid4

import order_limit
import pytest

from sdk import CheckoutCart, CheckoutLine, CheckoutVeto, Money, UnprocessableContent
from sdk.pricing import checkout_vetoes
from sdk.testing import check_plugin


def cart(organization_id: UUID, *quantities: int) -> CheckoutCart:
    lines = tuple(
        CheckoutLine(ticket_type_id=uuid4(), quantity=quantity, unit_price=Money(2500, "EUR"))
        for quantity in quantities
    )
    return CheckoutCart(
        organization_id=organization_id,
        event_id=uuid4(),
        buyer_id=None,
        lines=lines,
        total=Money(2500 * sum(quantities), "EUR"),
        buyer_email="buyer@example.com",
    )


def test_the_kernel_loads_it():
    assert check_plugin(order_limit, slug="order-limit") == []


@pytest.fixture
async def organizer(ticketing_new_organization, ticketing_enable_plugin):
    """An organization that allows at most 6 tickets per order."""
    organization = await ticketing_new_organization()
    await ticketing_enable_plugin(organization, "order-limit", {"max_tickets_per_order": 6})
    return organization


async def test_a_cart_over_the_limit_is_refused_with_a_reason(organizer, ticketing_kernel):
    vetoes = await checkout_vetoes(ticketing_kernel.hooks, cart(organizer.id, 4, 3))
    assert vetoes == [
        CheckoutVeto(
            code="order-limit-exceeded",
            reason="At most 6 tickets per order; this order has 7.",
        )
    ]


async def test_a_cart_at_the_limit_goes_through(organizer, ticketing_kernel):
    assert await checkout_vetoes(ticketing_kernel.hooks, cart(organizer.id, 4, 2)) == []


async def test_another_organizations_buyers_are_not_limited(
    organizer, ticketing_organization, ticketing_kernel
):
    assert ticketing_organization.id != organizer.id
    assert await checkout_vetoes(ticketing_kernel.hooks, cart(ticketing_organization.id, 50)) == []


async def test_a_new_limit_applies_to_the_next_checkout(
    organizer, ticketing_enable_plugin, ticketing_call_hook
):
    await ticketing_enable_plugin(organizer, "order-limit", {"max_tickets_per_order": 8})
    assert (
        await ticketing_call_hook(
            "ticketing_checkout_validate", organizer, cart=cart(organizer.id, 4, 3)
        )
        == []
    )
    [[veto]] = await ticketing_call_hook(
        "ticketing_checkout_validate", organizer, cart=cart(organizer.id, 9)
    )
    assert veto.reason == "At most 8 tickets per order; this order has 9."


async def test_without_settings_the_limit_is_10(
    ticketing_organization, ticketing_enable_plugin, ticketing_kernel
):
    await ticketing_enable_plugin(ticketing_organization, "order-limit")
    organization_id = ticketing_organization.id
    assert await checkout_vetoes(ticketing_kernel.hooks, cart(organization_id, 10)) == []
    [veto] = await checkout_vetoes(ticketing_kernel.hooks, cart(organization_id, 11))
    assert veto.reason == "At most 10 tickets per order; this order has 11."


@pytest.mark.parametrize("limit", [0, -1, 10001, "6", None])
async def test_a_limit_an_organizer_gets_wrong_is_refused_and_changes_nothing(
    organizer, ticketing_enable_plugin, ticketing_kernel, limit
):
    with pytest.raises(UnprocessableContent) as refused:
        await ticketing_enable_plugin(organizer, "order-limit", {"max_tickets_per_order": limit})
    assert refused.value.extensions["field"] == "/settings/max_tickets_per_order"
    [veto] = await checkout_vetoes(ticketing_kernel.hooks, cart(organizer.id, 7))
    assert veto.reason == "At most 6 tickets per order; this order has 7."
