"""The organizer's preview: which rule would tax a line of some amount, and the split.

It chooses and computes exactly as the pricing hook does, but on rules read from the
database in the request's transaction, so an organizer sees a change the moment it is
saved (buyers on other replicas may see it up to the cache's lifetime later).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.events import event_summary, ticket_type_summaries
from builtin_plugins.taxes import service
from builtin_plugins.taxes.calculation import line_tax
from builtin_plugins.taxes.models import TaxRule
from builtin_plugins.taxes.rules import Location, Rule, choose_rule
from sdk import LineTax, NotFound, TaxableParty, UnprocessableContent


@dataclass(frozen=True, slots=True)
class PreviewLine:
    """The line previewed: an amount for an event/ticket type, at a venue, for a buyer."""

    amount: int
    event_id: uuid.UUID | None
    ticket_type_id: uuid.UUID | None
    venue: Location
    buyer: TaxableParty


@dataclass(frozen=True, slots=True)
class Preview:
    rule: TaxRule | None
    tax: LineTax
    currency: str | None


async def resolve_line(
    session: AsyncSession,
    organization_id: uuid.UUID,
    *,
    amount: int,
    currency: str | None,
    event_id: uuid.UUID | None,
    ticket_type_id: uuid.UUID | None,
    venue: Location,
    buyer: TaxableParty,
) -> tuple[PreviewLine, str | None]:
    """The line to preview and its currency: the event (the ticket type's, if only that is
    given) supplies the venue and currency; 404 for another organization's."""
    ticket_type = None
    if ticket_type_id is not None:
        found = await ticket_type_summaries(
            session, [ticket_type_id], organization_id=organization_id
        )
        ticket_type = found.get(ticket_type_id)
        if ticket_type is None or (event_id is not None and ticket_type.event_id != event_id):
            raise NotFound(f"No ticket type {ticket_type_id}.")
        event_id = ticket_type.event_id
    if event_id is None:
        return PreviewLine(amount, None, None, venue, buyer), currency
    if venue.country is not None:
        raise UnprocessableContent(
            "The venue of an event is its address: send venue_country only without an event.",
            code="venue-conflict",
        )
    event = await event_summary(session, organization_id=organization_id, event_id=event_id)
    if event is None:
        raise NotFound(f"No event {event_id}.")
    at = Location(country=event.venue_country, region=event.venue_region)
    fallback = ticket_type.currency if ticket_type is not None else event.currency
    return PreviewLine(amount, event_id, ticket_type_id, at, buyer), currency or fallback


async def preview(
    session: AsyncSession, organization_id: uuid.UUID, line: PreviewLine, currency: str | None
) -> Preview:
    rows = {
        row.id: row
        for row in await session.scalars(
            select(TaxRule).where(TaxRule.organization_id == organization_id, TaxRule.active)
        )
    }
    chosen = choose_rule(
        [Rule.of(row) for row in rows.values()],
        event_id=line.event_id,
        ticket_type_id=line.ticket_type_id,
        venue=line.venue,
        buyer=Location(country=line.buyer.country, region=line.buyer.region),
    )
    if chosen is None:
        return Preview(rule=None, tax=LineTax.untaxed(line.amount), currency=currency)
    rounding = await service.rounding_of(session, organization_id)
    tax = line_tax(line.amount, chosen, line.buyer, rounding=rounding)
    return Preview(rule=rows[chosen.id], tax=tax, currency=currency)
