"""The organizer's preview: which rule would tax a line, and its net, tax and gross, read
from the rules as they are saved right now."""

from __future__ import annotations

import uuid

import httpx

from builtin_plugins.taxes.calculation import REVERSE_CHARGE_NOTE
from kernel.db import Database
from tests.integration.taxes.support import (  # noqa: F401 -- fixtures
    add_rule,
    http_fixture,
    new_event,
    preview,
    tax_url_fixture,
)


def split(found: dict) -> tuple[int, int, int]:
    return found["net"], found["tax"], found["gross"]


async def test_without_a_rule_the_line_is_untaxed(
    http: httpx.AsyncClient, database: Database
) -> None:
    org = await new_event(http, database)
    found = await preview(http, org, amount=1190, event_id=org.event_id)
    assert found["rule"] is None
    assert split(found) == (1190, 0, 1190)
    assert (found["rate"], found["currency"]) == ("0", "EUR")  # the event's currency


async def test_the_venues_rule_splits_an_inclusive_price(
    http: httpx.AsyncClient, database: Database
) -> None:
    org = await new_event(http, database, country="DE")
    rule = await add_rule(http, org)
    await add_rule(http, org, name="TVA 20%", rate=20, country="FR")

    at_venue = await preview(http, org, amount=1190, event_id=org.event_id)
    assert at_venue["rule"]["id"] == rule["id"]
    assert split(at_venue) == (1000, 190, 1190)
    assert (at_venue["rate"], at_venue["inclusive"], at_venue["label"]) == ("19", True, "VAT 19%")
    assert split(await preview(http, org, amount=1000, event_id=org.event_id)) == (840, 160, 1000)
    # without an event, the venue is whatever the organizer says
    french = await preview(http, org, amount=1200, venue_country="fr", currency="EUR")
    assert (split(french), french["label"]) == ((1000, 200, 1200), "TVA 20%")
    assert (await preview(http, org, amount=1200, venue_country="IT"))["rule"] is None


async def test_the_preview_follows_every_change_at_once(
    http: httpx.AsyncClient, database: Database
) -> None:
    org = await new_event(http, database)
    rule = await add_rule(http, org, price_includes_tax=False)
    url = f"{org.rules}/{rule['id']}"

    # 150 * 19 % = 28.5
    assert (await preview(http, org, amount=150, event_id=org.event_id))["tax"] == 28
    await http.put(f"{org.base}/tax-settings", json={"rounding": "half_up"}, headers=org.admin)
    assert (await preview(http, org, amount=150, event_id=org.event_id))["tax"] == 29

    await http.patch(url, json={"rate": "7.25"}, headers=org.admin)
    found = await preview(http, org, amount=999, event_id=org.event_id)
    assert (split(found), found["rate"]) == ((999, 72, 1071), "7.25")

    await http.patch(url, json={"active": False}, headers=org.admin)
    assert (await preview(http, org, amount=999, event_id=org.event_id))["rule"] is None


async def test_the_buyers_place_and_tax_id_choose_and_relieve(
    http: httpx.AsyncClient, database: Database
) -> None:
    org = await new_event(http, database, country="DE")
    await add_rule(http, org, b2b="reverse_charge")
    california = await add_rule(
        http,
        org,
        name="CA sales tax",
        rate="7.25",
        country="US",
        region="CA",
        basis="buyer",
        price_includes_tax=False,
    )

    business = await preview(
        http, org, amount=1190, event_id=org.event_id, country="FR", tax_id="FR 123 456 789 01"
    )
    assert split(business) == (1000, 0, 1000)
    assert business["note"] == REVERSE_CHARGE_NOTE
    consumer = await preview(http, org, amount=1190, event_id=org.event_id, country="FR")
    assert split(consumer) == (1000, 190, 1190)

    buyer_in_ca = await preview(
        http, org, amount=999, event_id=org.event_id, country="US", region="US-CA"
    )
    assert buyer_in_ca["rule"]["id"] == california["id"]  # a region beats a country
    assert split(buyer_in_ca) == (999, 72, 1071)


async def test_scoped_rules_apply_to_their_event_and_ticket_types(
    http: httpx.AsyncClient, database: Database
) -> None:
    org = await new_event(http, database)
    other = await new_event(http, database, org)
    await add_rule(http, org)
    vip = await add_rule(http, org, name="VIP 7%", rate=7, ticket_type_ids=[org.vip])
    festival = await add_rule(http, org, name="Festival 0%", rate=0, event_id=str(other.event_id))

    assert (await preview(http, org, amount=1070, ticket_type_id=org.vip))["rule"]["id"] == vip[
        "id"
    ]
    standard = await preview(http, org, amount=1190, ticket_type_id=org.standard)
    assert standard["label"] == "VAT 19%"
    free = await preview(http, org, amount=1000, ticket_type_id=other.vip)
    assert (free["rule"]["id"], split(free)) == (festival["id"], (1000, 0, 1000))


async def test_a_bad_preview_is_refused(http: httpx.AsyncClient, database: Database) -> None:
    org = await new_event(http, database)
    stranger = await new_event(http, database)
    url = f"{org.rules}/preview"

    def get(**query):
        return http.get(url, params={"amount": 100, **query}, headers=org.admin)

    assert (await get(event_id=str(stranger.event_id))).status_code == 404
    assert (await get(event_id=str(uuid.uuid4()))).status_code == 404
    assert (await get(ticket_type_id=stranger.standard)).status_code == 404
    other_event = await new_event(http, database, org)
    mismatch = await get(event_id=str(org.event_id), ticket_type_id=other_event.vip)
    assert mismatch.status_code == 404
    assert (await get(event_id=str(org.event_id), venue_country="FR")).status_code == 422
    bad_id = await get(tax_id="??")
    assert (bad_id.status_code, bad_id.json()["type"]) == (
        422,
        "urn:ticketing:problem:invalid-tax-id",
    )
    for query in ({"amount": -1}, {"amount": "ten"}, {"country": "France"}, {"currency": "eu"}):
        assert (await get(**query)).status_code == 422, query
    assert (await http.get(url, headers=org.admin)).status_code == 422  # no amount
