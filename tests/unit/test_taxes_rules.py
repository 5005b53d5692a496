"""Choosing a line's tax rule: scope, place by basis, and the most specific rule winning."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from builtin_plugins.taxes.models import BusinessTreatment, TaxBasis
from builtin_plugins.taxes.rules import Location, Rule, choose_rule, region_key

EVENT = uuid.UUID(int=10)
OTHER_EVENT = uuid.UUID(int=11)
STANDARD = uuid.UUID(int=20)
VIP = uuid.UUID(int=21)
BERLIN = Location("DE", "Berlin")
NOWHERE = Location()
T0 = datetime(2030, 1, 1, tzinfo=UTC)


def rule(name: str, **fields) -> Rule:
    base = Rule(
        id=uuid.uuid4(),
        name=name,
        rate=Decimal(19),
        country=None,
        region=None,
        basis=TaxBasis.EVENT,
        price_includes_tax=True,
        b2b=BusinessTreatment.CHARGE,
        event_id=None,
        ticket_type_ids=frozenset(),
        priority=0,
        created_at=T0,
    )
    return replace(base, **fields)


def chosen(
    rules: list[Rule],
    *,
    venue: Location = BERLIN,
    buyer: Location = NOWHERE,
    event_id: uuid.UUID = EVENT,
    ticket_type_id: uuid.UUID = STANDARD,
) -> str | None:
    found = choose_rule(
        rules, event_id=event_id, ticket_type_id=ticket_type_id, venue=venue, buyer=buyer
    )
    return found.name if found else None


def test_no_rules_or_no_match_means_untaxed() -> None:
    assert chosen([]) is None
    assert chosen([rule("France", country="FR")]) is None


def test_the_most_specific_rule_wins_in_the_documented_order() -> None:
    anywhere = rule("anywhere", created_at=T0 - timedelta(days=9))
    germany = rule("Germany", country="DE")
    berlin = rule("Berlin", country="DE", region="Berlin")
    vip_only = rule("VIP anywhere", ticket_type_ids=frozenset({STANDARD}))
    this_event = rule("this event anywhere", event_id=EVENT)
    rules = [anywhere, germany, berlin, vip_only, this_event]

    assert chosen(rules) == "this event anywhere"
    assert chosen(rules[:4]) == "VIP anywhere"
    assert chosen(rules[:3]) == "Berlin"
    assert chosen(rules[:2]) == "Germany"
    assert chosen(rules[:1]) == "anywhere"
    # specificity beats priority; priority breaks ties; then the oldest
    assert chosen([replace(anywhere, priority=1000), germany]) == "Germany"
    older = rule("older", country="DE", created_at=T0 - timedelta(days=1))
    assert chosen([germany, older]) == "older"
    assert chosen([germany, older, replace(germany, name="urgent", priority=5)]) == "urgent"


def test_scope_limits_a_rule_to_its_event_and_ticket_types() -> None:
    rules = [
        rule("other event", event_id=OTHER_EVENT),
        rule("VIP", ticket_type_ids=frozenset({VIP})),
        rule("default"),
    ]
    assert chosen(rules) == "default"
    assert chosen(rules, ticket_type_id=VIP) == "VIP"
    assert chosen(rules, event_id=OTHER_EVENT) == "other event"


def test_event_basis_reads_the_venue_and_buyer_basis_the_buyer() -> None:
    venue_de = rule("venue in Germany", country="DE", rate=Decimal(19))
    buyer_fr = rule(
        "buyer in France",
        country="FR",
        basis=TaxBasis.BUYER,
        rate=Decimal(20),
        created_at=T0 - timedelta(days=1),
    )
    rules = [venue_de, buyer_fr]

    assert chosen(rules, buyer=Location("FR")) == "buyer in France"  # equally specific: older
    assert chosen(rules, buyer=Location("IT")) == "venue in Germany"
    assert chosen(rules, venue=Location("AT"), buyer=Location("FR")) == "buyer in France"
    assert chosen(rules, venue=Location("AT"), buyer=Location("IT")) is None


def test_a_buyer_basis_rule_needs_a_buyer_country() -> None:
    everywhere = rule("any buyer", basis=TaxBasis.BUYER)
    assert chosen([everywhere], buyer=Location()) is None
    assert chosen([everywhere], buyer=Location(None, "CA")) is None
    assert chosen([everywhere], buyer=Location("us")) == "any buyer"


def test_an_event_basis_rule_for_a_country_needs_the_venues_country() -> None:
    assert chosen([rule("Germany", country="DE")], venue=Location()) is None
    assert chosen([rule("anywhere")], venue=Location()) == "anywhere"


def test_regions_match_without_case_or_country_prefix() -> None:
    california = rule("California", country="US", region="CA", basis=TaxBasis.BUYER)
    us = rule("US", country="US", basis=TaxBasis.BUYER)
    rules = [california, us]

    assert chosen(rules, buyer=Location("US", "US-CA")) == "California"
    assert chosen(rules, buyer=Location("US", "ca")) == "California"
    assert chosen(rules, buyer=Location("US", "NY")) == "US"
    assert chosen(rules, buyer=Location("US")) == "US"
    bavaria = rule("Bavaria", country="DE", region="Bavaria")
    assert chosen([bavaria], venue=Location("DE", "BAVARIA")) == "Bavaria"
    assert region_key("US", "US-CA") == region_key("US", " ca ") == "ca"
    assert region_key("DE", "US-CA") == "us-ca"  # another country's prefix is kept
    assert region_key("DE", None) is None
