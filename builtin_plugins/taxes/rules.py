"""Which tax rule applies to a line.

A rule is a candidate for a line when it is active, belongs to the line's organization,
its scope includes the line (``event_id`` None or the line's event; ``ticket_type_ids``
empty or holding the line's ticket type) and its place matches the location its
``basis`` names:

* ``event``: the venue's address (``venue_country``/``venue_region`` of the line);
* ``buyer``: the buyer's billing address. Without a buyer country a buyer-basis rule
  never matches, not even one for "anywhere": nobody knows where the buyer is.

A place matches when ``country`` is None (anywhere) or equals the location's country,
and ``region`` is None (the whole country) or names the location's region. Regions are
compared without case and without a country prefix, so a rule for ``US`` region ``CA``
matches ``US-CA``, ``CA`` and ``ca``.

Among the candidates the most specific wins, compared in this order:

1. for one event, over for every event;
2. for some ticket types, over for every type;
3. for a region, over a whole country;
4. for a country, over anywhere (the catch-all);
5. the higher ``priority``;
6. the oldest (``created_at``), then the smallest id, so the choice never flips.

No candidate: the line is untaxed.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from builtin_plugins.taxes.models import BusinessTreatment, TaxBasis, TaxRule


@dataclass(frozen=True, slots=True)
class Rule:
    """A tax rule as the pricing path uses it: an immutable copy, safe to cache."""

    id: uuid.UUID
    name: str
    rate: Decimal
    country: str | None
    region: str | None
    basis: TaxBasis
    price_includes_tax: bool
    b2b: BusinessTreatment
    event_id: uuid.UUID | None
    ticket_type_ids: frozenset[uuid.UUID]
    priority: int
    created_at: datetime

    @classmethod
    def of(cls, row: TaxRule) -> Rule:
        return cls(
            id=row.id,
            name=row.name,
            rate=Decimal(row.rate),
            country=row.country,
            region=row.region,
            basis=row.basis,
            price_includes_tax=row.price_includes_tax,
            b2b=row.b2b,
            event_id=row.event_id,
            ticket_type_ids=frozenset(row.ticket_type_ids or ()),
            priority=row.priority,
            created_at=row.created_at,
        )


@dataclass(frozen=True, slots=True)
class Location:
    """A country (ISO 3166-1 alpha-2) and, maybe, a region within it."""

    country: str | None = None
    region: str | None = None


def normalize_country(country: str | None) -> str | None:
    country = (country or "").strip().upper()
    return country or None


def region_key(country: str | None, region: str | None) -> str | None:
    """A region as compared: case-folded, without the ``<country>-`` prefix of ISO 3166-2."""
    key = (region or "").strip().casefold()
    prefix = f"{(country or '').strip().casefold()}-"
    if country and key.startswith(prefix):
        key = key[len(prefix) :]
    return key or None


def _place_matches(rule: Rule, where: Location) -> bool:
    if rule.country is None:
        return True
    country = normalize_country(where.country)
    if country != rule.country:
        return False
    return rule.region is None or region_key(rule.country, rule.region) == region_key(
        country, where.region
    )


def _in_scope(rule: Rule, event_id: uuid.UUID | None, ticket_type_id: uuid.UUID | None) -> bool:
    if rule.event_id is not None and rule.event_id != event_id:
        return False
    return not rule.ticket_type_ids or ticket_type_id in rule.ticket_type_ids


def applies(
    rule: Rule,
    *,
    event_id: uuid.UUID | None,
    ticket_type_id: uuid.UUID | None,
    venue: Location,
    buyer: Location,
) -> bool:
    """Whether ``rule`` is a candidate for the line (its activity is the caller's filter)."""
    if not _in_scope(rule, event_id, ticket_type_id):
        return False
    if rule.basis is TaxBasis.BUYER:
        if normalize_country(buyer.country) is None:
            return False
        return _place_matches(rule, buyer)
    return _place_matches(rule, venue)


def specificity(rule: Rule) -> tuple:
    """Sort key: the most specific rule sorts first (see the module's order)."""
    return (
        rule.event_id is None,
        not rule.ticket_type_ids,
        rule.region is None,
        rule.country is None,
        -rule.priority,
        rule.created_at,
        rule.id,
    )


def choose_rule(
    rules: Iterable[Rule],
    *,
    event_id: uuid.UUID | None,
    ticket_type_id: uuid.UUID | None,
    venue: Location,
    buyer: Location,
) -> Rule | None:
    """The rule for a line among an organization's active rules, or ``None``."""
    candidates = [
        rule
        for rule in rules
        if applies(rule, event_id=event_id, ticket_type_id=ticket_type_id, venue=venue, buyer=buyer)
    ]
    return min(candidates, key=specificity) if candidates else None
