"""Helpers of the ticketing tests: an organization with an event and a ticket type on
sale, and tickets issued straight through the issuance service."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import httpx
from sqlalchemy import text

from builtin_plugins.ticketing.issuance import Holder, issue_tickets
from builtin_plugins.ticketing.models import IssueKind, Ticket
from kernel.db import Database
from tests.integration.conftest import Person, add_member, new_organization, signed_in_user
from tests.integration.conftest import problem_code as problem_code  # the tests import it here
from tests.integration.inventory.support import make_event, make_type

PROBLEM = "application/problem+json"


@dataclass
class Venue:
    """An organization (admin headers), one published event and one ticket type."""

    organization_id: str
    admin: dict[str, str]
    event_id: uuid.UUID
    date_ids: list[uuid.UUID]
    ticket_type_id: str

    @property
    def base(self) -> str:
        return f"/api/v1/organizations/{self.organization_id}"

    @property
    def event_base(self) -> str:
        return f"{self.base}/events/{self.event_id}"


async def open_venue(
    api: httpx.AsyncClient, database: Database, *, capacity: int | None = 100, dates: int = 1
) -> Venue:
    organization_id, admin = await new_organization(api)
    event_id, date_ids = await make_event(database, organization_id, dates=dates)
    ticket_type = await make_type(api, organization_id, admin, event_id, capacity=capacity)
    return Venue(organization_id, admin, event_id, date_ids, ticket_type["id"])


async def move_dates(database: Database, venue: Venue, starts: datetime, ends: datetime) -> None:
    """Set every date of the venue's event (and the event) to run from ``starts`` to ``ends``:
    offline scans are believed only around their ticket's date."""
    async with database.transaction() as session:
        await session.execute(
            text("UPDATE event_date SET starts_at = :s, ends_at = :e WHERE event_id = :id"),
            {"s": starts, "e": ends, "id": venue.event_id},
        )
        await session.execute(
            text("UPDATE event SET starts_at = :s, ends_at = :e WHERE id = :id"),
            {"s": starts, "e": ends, "id": venue.event_id},
        )


async def staff(api: httpx.AsyncClient, venue: Venue, role: str = "organizer") -> dict[str, str]:
    """Headers of a new member of the venue's organization with ``role``."""
    return await add_member(api, venue.organization_id, venue.admin, role)


async def holder(api: httpx.AsyncClient) -> tuple[Person, dict[str, str]]:
    """A signed-in person (NextAuth token) who can hold tickets."""
    person = Person.new("holder")
    return person, await signed_in_user(api, person)


async def issue(
    database: Database,
    venue: Venue,
    holders: list[Person] | None = None,
    *,
    date_id: uuid.UUID | None = None,
    ticket_type_id: str | None = None,
) -> list[Ticket]:
    """Complimentary tickets for ``holders`` (one new person when omitted)."""
    people = holders or [Person.new("guest")]
    async with database.transaction() as session:
        issued = await issue_tickets(
            session,
            organization_id=uuid.UUID(venue.organization_id),
            event_id=venue.event_id,
            ticket_type_id=uuid.UUID(ticket_type_id or venue.ticket_type_id),
            event_date_id=date_id,
            holders=[Holder(name=p.name, email=p.email) for p in people],
            kind=IssueKind.COMPLIMENTARY,
        )
    return issued.tickets
