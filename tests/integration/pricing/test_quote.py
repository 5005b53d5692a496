"""The public quote endpoint over HTTP, priced from real inventory rows.

Events, ticket types, pools and holds are written straight to the database (the
catalog's own API is not what is under test); the quote is read from the real app.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from builtin_plugins.events.models import (
    Event,
    EventDate,
    EventStatus,
    HoldStatus,
    InventoryHold,
    InventoryPool,
    PoolKind,
    PoolMember,
    TicketType,
    Visibility,
)
from kernel.db import Database
from tests.integration.conftest import new_organization

NOW = datetime.now(UTC).replace(microsecond=0)
# inside the 48-hour tier, hours from its edges however long the suite takes to get here
STARTS_AT = NOW + timedelta(hours=30)

PRICING = {
    "quantity-tiers": {
        "steps": [{"after_sold": 100, "price_change": 500}, {"after_sold": 200, "price": 6_000}]
    },
    "early-bird": {"tiers": [{"until": (NOW + timedelta(days=10)).isoformat(), "percent_off": 20}]},
    "time-to-event": {"tiers": [{"hours_before": 48, "percent_change": 15}]},
    "demand-surge": {"window_minutes": 60, "threshold": 5, "percent": 10, "max_percent": 25},
}


class Catalog:
    """Rows of one organization, written with SQLAlchemy."""

    def __init__(self, database: Database, organization_id: str) -> None:
        self.database = database
        self.organization_id = uuid.UUID(organization_id)

    async def add(self, *rows: Any) -> None:
        async with self.database.transaction() as session:
            for row in rows:
                row.organization_id = self.organization_id
                session.add(row)
                await session.flush()

    async def event(self, *, status: EventStatus = EventStatus.PUBLISHED, **fields: Any) -> Event:
        event = Event(
            slug=f"event-{uuid.uuid4().hex[:10]}",
            title="Pricing test",
            starts_at=STARTS_AT,
            ends_at=STARTS_AT + timedelta(hours=5),
            timezone="Europe/Berlin",
            currency="EUR",
            status=status,
            **fields,
        )
        await self.add(event)
        return event

    async def ticket_type(
        self, event: Event, *, pool: tuple[int, int] | None, **fields
    ) -> TicketType:
        """A ticket type, with its own pool of ``(capacity, sold)`` unless ``pool`` is None."""
        ticket_type = TicketType(
            event_id=event.id,
            name=fields.pop("name", f"Type {uuid.uuid4().hex[:6]}"),
            price_amount=fields.pop("price_amount", 4_500),
            currency="EUR",
            capacity=300,
            pricing=fields.pop("pricing", PRICING),
            **fields,
        )
        await self.add(ticket_type)
        if pool is not None:
            capacity, sold = pool
            await self.add(
                InventoryPool(
                    event_id=event.id,
                    ticket_type_id=ticket_type.id,
                    kind=PoolKind.TICKET_TYPE,
                    name=ticket_type.name,
                    capacity=capacity,
                    sold=sold,
                )
            )
        return ticket_type

    async def set_sold(self, ticket_type: TicketType, sold: int) -> None:
        async with self.database.transaction() as session:
            await session.execute(
                update(InventoryPool)
                .where(InventoryPool.ticket_type_id == ticket_type.id)
                .values(sold=sold)
            )


@pytest.fixture
async def catalog(api: httpx.AsyncClient, database: Database) -> Catalog:
    organization_id, _ = await new_organization(api)
    return Catalog(database, organization_id)


def url(event, ticket_type, **params) -> str:
    query = "&".join(f"{key}={value}" for key, value in params.items())
    return f"/api/v1/events/{event.id}/ticket-types/{ticket_type.id}/quote?{query}"


async def get_quote(api: httpx.AsyncClient, event, ticket_type, **params) -> dict[str, Any]:
    answer = await api.get(url(event, ticket_type, **params))  # no credentials: public
    assert answer.status_code == 200, answer.text
    return answer.json()


def breakdown(quote: dict[str, Any]) -> list[tuple[str, str, int]]:
    return [(a["stage"], a["code"], a["amount"]) for a in quote["adjustments"]]


async def test_the_quote_follows_units_sold_and_repeats_for_the_same_state(api, catalog) -> None:
    event = await catalog.event()
    ticket_type = await catalog.ticket_type(event, pool=(300, 0))

    first = await get_quote(api, event, ticket_type, quantity=2)
    again = await get_quote(api, event, ticket_type, quantity=2)

    # 4 500 -> 30 h before the event +15 % = 5 175 -> early bird -20 % = 4 140
    assert first == again
    assert first["event_id"] == str(event.id) and first["ticket_type_id"] == str(ticket_type.id)
    assert (first["quantity"], first["currency"], first["event_date_id"]) == (2, "EUR", None)
    assert first["base_unit_price"] == 4_500
    assert breakdown(first) == [
        ("dynamic", "time-to-event", 675),
        ("discount", "early-bird", -1_035),
    ]
    assert [a["label"] for a in first["adjustments"]] == [
        "Within 48 hours of the event +15%",
        f"Early bird -20% until {NOW + timedelta(days=10):%Y-%m-%d %H:%M} UTC",
    ]
    assert (first["unit_price"], first["total"]) == (4_140, 8_280)

    await catalog.set_sold(ticket_type, 150)
    stepped = await get_quote(api, event, ticket_type, quantity=2)
    # 4 500 + 500 = 5 000 -> +15 % = 5 750 -> -20 % = 4 600
    assert breakdown(stepped) == [
        ("dynamic", "quantity-tiers", 500),
        ("dynamic", "time-to-event", 750),
        ("discount", "early-bird", -1_150),
    ]
    assert (stepped["unit_price"], stepped["total"]) == (4_600, 9_200)

    await catalog.set_sold(ticket_type, 250)
    absolute = await get_quote(api, event, ticket_type, quantity=2)
    # the step's price 6 000 replaces the base price -> +15 % = 6 900 -> -20 % = 5 520
    assert breakdown(absolute)[0] == ("dynamic", "quantity-tiers", 1_500)
    assert absolute["unit_price"] == 5_520

    await catalog.set_sold(ticket_type, 150)
    assert await get_quote(api, event, ticket_type, quantity=2) == stepped


async def test_recent_sales_surge_with_a_cap_and_the_date_gives_the_start(api, catalog) -> None:
    event = await catalog.event()
    date = EventDate(
        event_id=event.id,
        starts_at=NOW + timedelta(days=5),
        ends_at=NOW + timedelta(days=5, hours=4),
    )
    await catalog.add(date)
    ticket_type = await catalog.ticket_type(event, pool=(300, 0))
    now = datetime.now(UTC)  # not NOW: the suite may have run for a while

    def hold(quantity: int, status: HoldStatus, minutes_ago: int, expires_in: int = 15):
        return InventoryHold(
            event_id=event.id,
            event_date_id=date.id,
            ticket_type_id=ticket_type.id,
            quantity=quantity,
            owner=f"cart-{uuid.uuid4().hex[:8]}",
            status=status,
            created_at=now - timedelta(minutes=minutes_ago),
            expires_at=now + timedelta(minutes=expires_in),
        )

    before = await get_quote(api, event, ticket_type, date_id=date.id)
    await catalog.add(
        hold(7, HoldStatus.CONVERTED, minutes_ago=10),  # counted
        hold(3, HoldStatus.ACTIVE, minutes_ago=5),  # counted
        hold(50, HoldStatus.RELEASED, minutes_ago=5),  # given back
        hold(40, HoldStatus.ACTIVE, minutes_ago=30, expires_in=-10),  # expired cart
        hold(100, HoldStatus.CONVERTED, minutes_ago=90),  # outside the hour
    )
    surged = await get_quote(api, event, ticket_type, date_id=date.id)

    # the date starts in five days: no time-to-event tier; early bird on the base price
    assert breakdown(before) == [("discount", "early-bird", -900)]
    assert before["event_date_id"] == str(date.id)
    # 10 units in the hour: two thresholds of 5 -> +20 %
    assert breakdown(surged) == [
        ("dynamic", "demand-surge", 900),
        ("discount", "early-bird", -1_080),
    ]
    assert surged["adjustments"][0]["label"] == "High demand +20%"
    assert surged["unit_price"] == 4_320

    await catalog.add(hold(6, HoldStatus.CONVERTED, minutes_ago=1))
    capped = await get_quote(api, event, ticket_type, date_id=date.id)
    # 16 units: three thresholds would be +30 %, capped at +25 %
    assert breakdown(capped)[0] == ("dynamic", "demand-surge", 1_125)
    assert capped["unit_price"] == 4_500


async def test_shared_pools_count_when_the_type_has_no_pool_of_its_own(api, catalog) -> None:
    event = await catalog.event()
    ticket_type = await catalog.ticket_type(
        event, pool=None, pricing={"quantity-tiers": PRICING["quantity-tiers"]}
    )
    quote = await get_quote(api, event, ticket_type)
    assert breakdown(quote) == []
    assert (quote["unit_price"], quote["total"]) == (4_500, 4_500)

    floor = InventoryPool(
        event_id=event.id, kind=PoolKind.SHARED, name="Floor", capacity=200, sold=60
    )
    balcony = InventoryPool(
        event_id=event.id, kind=PoolKind.SHARED, name="Balcony", capacity=100, sold=45
    )
    await catalog.add(floor, balcony)
    async with catalog.database.transaction() as session:
        session.add_all(
            [
                PoolMember(pool_id=pool.id, ticket_type_id=ticket_type.id)
                for pool in (floor, balcony)
            ]
        )

    assert breakdown(await get_quote(api, event, ticket_type)) == [
        ("dynamic", "quantity-tiers", 500)
    ]


async def test_without_pricing_settings_the_list_price_is_the_price(api, catalog) -> None:
    event = await catalog.event()
    ticket_type = await catalog.ticket_type(event, pool=(300, 299), pricing={}, price_amount=0)

    quote = await get_quote(api, event, ticket_type, quantity=3)

    assert (
        quote["base_unit_price"],
        quote["adjustments"],
        quote["unit_price"],
        quote["total"],
    ) == (0, [], 0, 0)


async def test_invalid_settings_are_ignored_not_an_error(api, catalog) -> None:
    event = await catalog.event()
    broken = {**PRICING, "early-bird": {"tiers": [{"until": "soon", "percent_off": 20}]}}
    ticket_type = await catalog.ticket_type(event, pool=(300, 0), pricing=broken)

    quote = await get_quote(api, event, ticket_type)

    assert breakdown(quote) == [("dynamic", "time-to-event", 675)]


async def test_only_public_types_of_published_events_are_quoted(api, catalog) -> None:
    draft = await catalog.event(status=EventStatus.DRAFT)
    draft_type = await catalog.ticket_type(draft, pool=(10, 0))
    event = await catalog.event()
    hidden = await catalog.ticket_type(event, pool=(10, 0), visibility=Visibility.HIDDEN)
    public = await catalog.ticket_type(event, pool=(10, 0), max_per_order=4)
    other = await catalog.event()
    other_date = EventDate(
        event_id=other.id, starts_at=STARTS_AT, ends_at=STARTS_AT + timedelta(hours=1)
    )
    await catalog.add(other_date)

    for path in (
        url(draft, draft_type),
        url(event, hidden),
        url(other, public),  # a ticket type of another event
        url(event, public, date_id=other_date.id),  # a date of another event
        f"/api/v1/events/{uuid.uuid4()}/ticket-types/{public.id}/quote",
    ):
        answer = await api.get(path)
        assert answer.status_code == 404, path
        assert answer.headers["content-type"].startswith("application/problem+json")

    too_many = await api.get(url(event, public, quantity=5))
    assert too_many.status_code == 422
    assert too_many.json()["type"] == "urn:ticketing:problem:quantity-out-of-range"
    assert (await api.get(url(event, public, quantity=0))).status_code == 422
    assert (await api.get(url(event, public, quantity=4))).json()["total"] == 4 * 4_140
