"""The tax hook as the buying path calls it: lines quoted from the database by the events
plugin, taxed through ``kernel.pricing.tax_line`` with the real plugin manager, by rules
saved over HTTP -- the venue's country for some, the buyer's for others."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select

from builtin_plugins.events.models import Event, TicketType
from builtin_plugins.events.pricing import quote
from builtin_plugins.taxes import runtime
from builtin_plugins.taxes.calculation import REVERSE_CHARGE_NOTE
from kernel.context import Kernel, build_kernel
from kernel.contracts import LineTax, TaxableParty
from kernel.db import Database
from kernel.plugin_manager import create_plugin_manager
from kernel.pricing import tax_line
from tests.conftest import make_settings
from tests.integration.taxes.support import (  # noqa: F401 -- fixtures
    Organizer,
    add_rule,
    http_fixture,
    new_event,
    tax_url_fixture,
)


@pytest.fixture
async def kernel(tmp_path, database_url: str, redis_url: str, identity_env) -> AsyncIterator:
    """A started kernel, as an API process has one."""
    settings = make_settings(tmp_path, database_url=database_url, redis_url=redis_url)
    started: Kernel = build_kernel(settings, create_plugin_manager())
    await started.hooks.call_everywhere("ticketing_startup", kernel=started)
    try:
        yield started
    finally:
        await started.hooks.call_everywhere("ticketing_shutdown", kernel=started)
        await started.cache.close()
        await started.pubsub.close()
        await started.lookups.dispose()
        await started.database.dispose()


async def taxed(
    kernel: Kernel, org: Organizer, buyer: TaxableParty, *, quantity: int = 1, vip: bool = False
) -> LineTax:
    """Quote a line of the organizer's event as the cart does, then tax it."""
    type_id = uuid.UUID(org.vip if vip else org.standard)
    async with kernel.database.transaction() as session:
        event = await session.scalar(select(Event).where(Event.id == org.event_id))
        ticket_type = await session.scalar(select(TicketType).where(TicketType.id == type_id))
        line = await quote(
            session, kernel.hooks, event=event, ticket_type=ticket_type, quantity=quantity
        )
    return await tax_line(kernel.hooks, line, buyer)


def split(tax: LineTax) -> tuple[int, int, int]:
    return tax.net, tax.tax, tax.gross


CONSUMER_FR = TaxableParty(country="FR")


async def test_rules_follow_the_venue_or_the_buyer(
    http: httpx.AsyncClient, database: Database, kernel: Kernel
) -> None:
    berlin = await new_event(http, database, country="DE", region="Berlin", price=1190)
    vienna = await new_event(http, database, berlin, country="AT", region="Wien", price=1200)
    zurich = await new_event(http, database, berlin, country="CH", region=None, price=1000)
    germany = await add_rule(http, berlin, b2b="reverse_charge")
    austria = await add_rule(http, berlin, name="USt 20%", rate=20, country="AT")
    california = await add_rule(
        http,
        berlin,
        name="CA sales tax",
        rate="7.25",
        country="US",
        region="CA",
        basis="buyer",
        price_includes_tax=False,
    )

    at_berlin = await taxed(kernel, berlin, CONSUMER_FR, quantity=2)
    assert (at_berlin.rule, split(at_berlin)) == (germany["id"], (2000, 380, 2380))
    at_vienna = await taxed(kernel, vienna, CONSUMER_FR)
    assert (at_vienna.rule, split(at_vienna)) == (austria["id"], (1000, 200, 1200))
    assert (at_vienna.label, at_vienna.rate, at_vienna.inclusive) == ("USt 20%", "20", True)
    # no rule for Switzerland, and the buyer's country names no rule either
    assert split(await taxed(kernel, zurich, CONSUMER_FR)) == (1000, 0, 1000)
    assert (await taxed(kernel, zurich, CONSUMER_FR)).rule is None
    # the Californian buyer's rule is more specific (a region) than the venue's country
    buyer_in_ca = await taxed(kernel, berlin, TaxableParty(country="US", region="US-CA"))
    assert (buyer_in_ca.rule, split(buyer_in_ca)) == (california["id"], (1190, 86, 1276))
    assert (await taxed(kernel, zurich, TaxableParty(country="US", region="CA"))).tax == 72
    # a French business at the Berlin venue: reverse charge, they pay the net
    business = await taxed(kernel, berlin, TaxableParty(country="FR", tax_id="FR12345678901"))
    assert split(business) == (1000, 0, 1000)
    assert business.note == REVERSE_CHARGE_NOTE


async def test_an_organization_without_rules_is_asked_once(
    http: httpx.AsyncClient, database: Database, kernel: Kernel
) -> None:
    org = await new_event(http, database)
    cache = runtime.of(kernel).cache
    before = cache.loads

    for _ in range(10):
        assert (await taxed(kernel, org, CONSUMER_FR)).rule is None

    assert cache.loads - before == 1
