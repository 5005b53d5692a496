"""Events over real HTTP: organizer CRUD and validation, dates and capacity, the status
lifecycle with its outbox events, public search, the stream link and the public cache.

One app serves the whole module (started once, with a test plugin that answers the
``ticketing_ticket_holder`` hook), and one organization with an admin, an organizer and a
plain user is shared; every test names its events with its own unique tag or word, so
tests sharing the session database never see each other's data in what they assert.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import select

from builtin_plugins.events.categories import seed_categories
from builtin_plugins.events.models import (
    HoldStatus,
    InventoryHold,
    InventoryPool,
    PoolKind,
    TicketType,
    Visibility,
)
from kernel.db import Database
from kernel.markers import hookimpl
from kernel.outbox import OutboxEvent
from kernel.plugin_manager import create_plugin_manager
from kernel.plugin_metadata import PluginCategory, PluginMetadata
from tests.integration.conftest import (
    add_member,
    module_app,
    new_organization,
    signed_in_user,
)
from tests.support.openapi_contract import checked_client

PROBLEM = "application/problem+json"


class TicketHolders:
    """A stand-in for the ticketing plugin: says who holds a ticket for which event."""

    METADATA = PluginMetadata(
        slug="events-test-holders",
        name="Ticket holders for the events tests",
        version="1.0.0",
        category=PluginCategory.TICKETING,
    )

    def __init__(self) -> None:
        self.holders: set[tuple[str, str]] = set()  # (event id, user id)

    @hookimpl
    async def ticketing_ticket_holder(self, organization_id, event_id, user_id):
        return True if (str(event_id), str(user_id)) in self.holders else None


HOLDERS = TicketHolders()


@pytest.fixture(scope="module")
def events_api_url(tmp_path_factory, database_url: str, redis_url: str) -> Iterator[str]:
    """The real app (Redis cache included) for the whole module: one start, not one per test."""
    with module_app(
        tmp_path_factory,
        database_url,
        redis_url,
        "events",
        plugins=create_plugin_manager(extra_plugins=[HOLDERS]),
    ) as url:
        yield url


@pytest.fixture(scope="module")
async def http(events_api_url: str, database: Database) -> AsyncIterator[httpx.AsyncClient]:
    async with database.transaction() as session:
        await seed_categories(session)
    async with checked_client(events_api_url, timeout=30) as client:
        yield client


@dataclass
class Org:
    id: str
    admin: dict[str, str]
    organizer: dict[str, str]
    user: dict[str, str]

    @property
    def events(self) -> str:
        return f"/api/v1/organizations/{self.id}/events"


@pytest.fixture(scope="module")
async def org(http: httpx.AsyncClient) -> Org:
    org_id, admin = await new_organization(http)
    organizer = await add_member(http, org_id, admin, "organizer")
    user = await add_member(http, org_id, admin, "user")
    return Org(org_id, admin, organizer, user)


def tag() -> str:
    return f"t{uuid.uuid4().hex[:12]}"


def at(day: str, hour: int = 19) -> str:
    return f"{day}T{hour:02d}:00:00+01:00"


BERLIN = {"line1": "Alexanderplatz 1", "city": "Berlin", "postal_code": "10178", "country": "de"}


def physical(title: str, **fields) -> dict:
    body = {
        "title": title,
        "timezone": "Europe/Berlin",
        "currency": "EUR",
        "kind": "physical",
        "venue_name": "Big Hall",
        "address": BERLIN,
        "starts_at": at("2030-03-01"),
        "ends_at": at("2030-03-01", 23),
    }
    body.update(fields)
    return body


def virtual(title: str, **fields) -> dict:
    body = {
        "title": title,
        "timezone": "UTC",
        "currency": "EUR",
        "kind": "virtual",
        "stream_url": "https://stream.example.com/live/abc",
        "starts_at": at("2030-03-01"),
        "ends_at": at("2030-03-01", 21),
    }
    body.update(fields)
    return body


async def create(http: httpx.AsyncClient, org: Org, body: dict) -> dict:
    answer = await http.post(org.events, json=body, headers=org.organizer)
    assert answer.status_code == 201, answer.text
    return answer.json()


async def add_ticket_type(
    database: Database,
    org: Org,
    event_id: str,
    price: int = 1000,
    visibility: Visibility = Visibility.PUBLIC,
) -> uuid.UUID:
    async with database.transaction() as session:
        ticket_type = TicketType(
            organization_id=uuid.UUID(org.id),
            event_id=uuid.UUID(event_id),
            name=f"Ticket {uuid.uuid4().hex[:6]}",
            price_amount=price,
            currency="EUR",
            visibility=visibility,
        )
        session.add(ticket_type)
        await session.flush()
        return ticket_type.id


async def publish(http: httpx.AsyncClient, org: Org, event_id: str) -> dict:
    answer = await http.post(f"{org.events}/{event_id}/publish", headers=org.organizer)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def published(
    http: httpx.AsyncClient, database: Database, org: Org, body: dict, prices=(1000,)
) -> dict:
    event = await create(http, org, body)
    for price in prices:
        await add_ticket_type(database, org, event["id"], price)
    return await publish(http, org, event["id"])


def problem_fields(answer: httpx.Response) -> set[str]:
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == PROBLEM
    return {error["location"][-1] for error in answer.json()["errors"]}


# --------------------------------------------------------------------------------------
# Organizer CRUD and validation
# --------------------------------------------------------------------------------------


async def test_invalid_events_are_422_problems_naming_the_field(
    http: httpx.AsyncClient, org: Org
) -> None:
    async def refused(body: dict) -> set[str]:
        return problem_fields(await http.post(org.events, json=body, headers=org.organizer))

    assert "timezone" in await refused(physical("Bad zone", timezone="Mars/Olympus_Mons"))
    assert "ends_at" in await refused(
        physical("Backwards", starts_at=at("2030-03-01", 20), ends_at=at("2030-03-01", 18))
    )
    assert "ends_at" in await refused(
        physical(
            "Backwards series",
            starts_at=None,
            ends_at=None,
            dates=[{"starts_at": at("2030-03-01", 20), "ends_at": at("2030-03-01", 18)}],
        )
    )
    assert "starts_at" in await refused(physical("Naive", starts_at="2030-03-01T19:00:00"))
    assert {"venue_name", "address"} <= await refused(
        physical("No venue", venue_name=None, address=None)
    )
    assert "stream_url" in await refused(
        virtual("Plain http", stream_url="http://stream.example.com/live")
    )
    assert "stream_url" in await refused(virtual("No stream", stream_url=None))
    assert "currency" in await refused(physical("Bad money", currency="eur"))
    assert "currency" in await refused(physical("Bad money", currency="EURO"))
    assert "title" in await refused(physical("   "))
    assert "title" in await refused(physical("x" * 201))
    assert "capacity" in await refused(physical("Negative", capacity=-1))
    assert "longitude" in await refused(physical("Half a place", latitude=52.5))
    assert "latitude" in await refused(physical("Off the map", latitude=91, longitude=13))
    assert "country" in await refused(physical("Bad country", address={**BERLIN, "country": "DEU"}))
    assert "category" in await refused(physical("No such category", category="knitting"))
    assert "0" in await refused(physical("Long tag", tags=["x" * 51]))
    assert "tags" in await refused(physical("Many tags", tags=[f"t{i}" for i in range(21)]))
    assert "venue_name" in await refused(virtual("Virtual venue", venue_name="Hall"))

    event = await create(
        http,
        org,
        physical(
            "Well formed",
            tags=["Rock", " rock ", "Open Air"],
            category="music",
            latitude=52.52,
            longitude=13.405,
            capacity=500,
        ),
    )
    assert event["status"] == "draft"
    assert event["tags"] == ["rock", "open air"]
    assert event["category"] == {"slug": "music", "name": "Music"}
    assert event["address"]["country"] == "DE"
    assert event["starts_at"] == "2030-03-01T18:00:00Z"  # stored in UTC


async def test_description_is_sanitized_and_slugs_are_unique_per_organization(
    http: httpx.AsyncClient, org: Org
) -> None:
    word = tag()
    description = (
        '<p onclick="steal()">Come <strong>early</strong><script>alert(1)</script>'
        '<a href="https://band.example.com">band</a><a href="javascript:alert(2)">x</a>'
        '<img src=x onerror="alert(3)"></p>'
    )
    event = await create(http, org, physical(f"Night {word}", description=description))
    cleaned = event["description"]
    assert "<strong>early</strong>" in cleaned
    for banned in ("script", "alert", "onclick", "onerror", "javascript", "<img"):
        assert banned not in cleaned
    assert 'href="https://band.example.com"' in cleaned
    assert 'rel="noopener' in cleaned
    assert event["slug"] == f"night-{word}"

    again = await create(http, org, physical(f"Night {word}"))
    assert again["slug"] == f"night-{word}-2"

    clash = await http.post(
        org.events, json=physical("Other", slug=f"night-{word}"), headers=org.organizer
    )
    assert clash.status_code == 409, clash.text
    assert clash.json()["type"] == "urn:ticketing:problem:slug-taken"
    renamed = await http.patch(
        f"{org.events}/{again['id']}", json={"slug": f"night-{word}"}, headers=org.organizer
    )
    assert renamed.status_code == 409

    other_org, other_admin = await new_organization(http)
    elsewhere = await http.post(
        f"/api/v1/organizations/{other_org}/events",
        json=physical("Other", slug=f"night-{word}"),
        headers=other_admin,
    )
    assert elsewhere.status_code == 201, elsewhere.text


async def test_updates_keep_the_rules_of_the_merged_event(
    http: httpx.AsyncClient, org: Org
) -> None:
    event = await create(http, org, physical("Changing", capacity=10))
    url = f"{org.events}/{event['id']}"

    assert "stream_url" in problem_fields(
        await http.patch(url, json={"kind": "hybrid"}, headers=org.organizer)
    )
    assert "venue_name" in problem_fields(
        await http.patch(url, json={"venue_name": None}, headers=org.organizer)
    )
    assert "title" in problem_fields(
        await http.patch(url, json={"title": None}, headers=org.organizer)
    )
    hybrid = await http.patch(
        url,
        json={
            "kind": "hybrid",
            "stream_url": "https://stream.example.com/x",
            "title": "Changed",
            "description": "<b>new</b><script>x()</script>",
            "category": "theatre",
            "capacity": None,
        },
        headers=org.organizer,
    )
    assert hybrid.status_code == 200, hybrid.text
    body = hybrid.json()
    assert (body["kind"], body["title"], body["description"]) == ("hybrid", "Changed", "<b>new</b>")
    assert body["category"]["slug"] == "theatre"
    assert body["capacity"] is None
    assert body["updated_at"] >= event["updated_at"]


async def test_series_dates_span_and_capacity_pools(
    http: httpx.AsyncClient, database: Database, org: Org
) -> None:
    event = await create(
        http,
        org,
        physical(
            "Summer series",
            starts_at=None,
            ends_at=None,
            capacity=100,
            dates=[
                {"starts_at": at("2030-07-08"), "ends_at": at("2030-07-08", 22), "capacity": 40},
                {"starts_at": at("2030-07-01"), "ends_at": at("2030-07-01", 22)},
            ],
        ),
    )
    event_id = uuid.UUID(event["id"])
    url = f"{org.events}/{event['id']}"
    assert [d["starts_at"] for d in event["dates"]] == [
        "2030-07-01T18:00:00Z",
        "2030-07-08T18:00:00Z",
    ]
    assert (event["starts_at"], event["ends_at"]) == (
        "2030-07-01T18:00:00Z",
        "2030-07-08T21:00:00Z",
    )

    async def pools() -> dict:
        async with database.transaction() as session:
            rows = await session.scalars(
                select(InventoryPool).where(InventoryPool.event_id == event_id)
            )
            return {(p.kind, p.event_date_id): p.capacity for p in rows}

    first, second = (uuid.UUID(d["id"]) for d in event["dates"])
    assert await pools() == {(PoolKind.EVENT, None): 100, (PoolKind.DATE, second): 40}

    added = await http.post(
        f"{url}/dates",
        json={"starts_at": at("2030-07-15"), "ends_at": at("2030-07-16", 2), "capacity": 30},
        headers=org.organizer,
    )
    assert added.status_code == 201, added.text
    third = added.json()["id"]
    duplicate = await http.post(
        f"{url}/dates",
        json={"starts_at": at("2030-07-15"), "ends_at": at("2030-07-15", 23)},
        headers=org.organizer,
    )
    assert "starts_at" in problem_fields(duplicate)
    current = (await http.get(url, headers=org.user)).json()
    assert current["ends_at"] == "2030-07-16T01:00:00Z" and len(current["dates"]) == 3

    moved = await http.patch(
        f"{url}/dates/{first}",
        json={"starts_at": at("2030-06-30"), "capacity": 20},
        headers=org.organizer,
    )
    assert moved.status_code == 200, moved.text
    backwards = await http.patch(
        f"{url}/dates/{first}", json={"ends_at": at("2030-06-29")}, headers=org.organizer
    )
    assert "ends_at" in problem_fields(backwards)
    assert (await http.get(url, headers=org.user)).json()["starts_at"] == "2030-06-30T18:00:00Z"
    assert (await pools())[(PoolKind.DATE, first)] == 20

    # five tickets sold on the second date: its capacity, the event's and the date stay
    ticket_type = await add_ticket_type(database, org, event["id"])
    async with database.transaction() as session:
        session.add(
            InventoryHold(
                organization_id=uuid.UUID(org.id),
                event_id=event_id,
                event_date_id=second,
                ticket_type_id=ticket_type,
                quantity=5,
                owner="test-buyer",
                status=HoldStatus.CONVERTED,
                expires_at=datetime.now(UTC),
            )
        )
    too_low = await http.patch(url, json={"capacity": 4}, headers=org.organizer)
    assert too_low.status_code == 409, too_low.text
    assert "5" in too_low.json()["detail"]
    date_too_low = await http.patch(
        f"{url}/dates/{second}", json={"capacity": 3}, headers=org.organizer
    )
    assert date_too_low.status_code == 409
    sold_date = await http.delete(f"{url}/dates/{second}", headers=org.organizer)
    assert sold_date.status_code == 409
    assert sold_date.json()["type"] == "urn:ticketing:problem:date-has-inventory"
    assert (await http.patch(url, json={"capacity": 5}, headers=org.organizer)).status_code == 200
    assert (await pools())[(PoolKind.EVENT, None)] == 5

    assert (await http.delete(f"{url}/dates/{third}", headers=org.organizer)).status_code == 204
    assert (await http.delete(f"{url}/dates/{first}", headers=org.organizer)).status_code == 204
    last = await http.delete(f"{url}/dates/{second}", headers=org.organizer)
    assert last.status_code == 409 and last.json()["type"] == "urn:ticketing:problem:last-date"
    remaining = (await http.get(f"{url}/dates", headers=org.user)).json()["items"]
    assert [d["id"] for d in remaining] == [str(second)]
    final = (await http.get(url, headers=org.user)).json()
    assert (final["starts_at"], final["ends_at"]) == (
        "2030-07-08T18:00:00Z",
        "2030-07-08T21:00:00Z",
    )
    assert await pools() == {(PoolKind.EVENT, None): 5, (PoolKind.DATE, second): 40}


async def test_roles_and_tenants(http: httpx.AsyncClient, org: Org) -> None:
    event = await create(http, org, physical("Private draft"))
    refused = await http.post(org.events, json=physical("By a user"), headers=org.user)
    assert refused.status_code == 403 and refused.headers["content-type"] == PROBLEM
    assert (await http.get(org.events, headers=org.user)).status_code == 200
    assert (await http.get(org.events)).status_code == 401
    patched = await http.patch(f"{org.events}/{event['id']}", json={"title": "x"}, headers=org.user)
    assert patched.status_code == 403

    other_org, other_admin = await new_organization(http)
    assert (await http.get(f"{org.events}/{event['id']}", headers=other_admin)).status_code == 404
    theirs = f"/api/v1/organizations/{other_org}/events/{event['id']}"
    for method, path, body in (
        ("GET", theirs, None),
        ("PATCH", theirs, {"title": "Stolen"}),
        ("DELETE", theirs, None),
        ("POST", f"{theirs}/publish", None),
        ("POST", f"{theirs}/cancel", None),
        ("GET", f"{theirs}/dates", None),
        ("POST", f"{theirs}/dates", {"starts_at": at("2030-01-01"), "ends_at": at("2030-01-02")}),
    ):
        answer = await http.request(method, path, json=body, headers=other_admin)
        assert answer.status_code == 404, (method, path, answer.text)
        assert "Private draft" not in answer.text
    listed = (
        await http.get(f"/api/v1/organizations/{other_org}/events", headers=other_admin)
    ).json()
    assert event["id"] not in {e["id"] for e in listed["items"]}


# --------------------------------------------------------------------------------------
# Status lifecycle
# --------------------------------------------------------------------------------------


async def test_status_lifecycle_outbox_and_audit(
    http: httpx.AsyncClient, database: Database, org: Org
) -> None:
    event = await create(http, org, physical("Lifecycle"))
    url = f"{org.events}/{event['id']}"

    unsellable = await http.post(f"{url}/publish", headers=org.organizer)
    assert unsellable.status_code == 422, unsellable.text
    assert [r["code"] for r in unsellable.json()["reasons"]] == ["no-ticket-types"]
    assert (await http.post(f"{url}/complete", headers=org.organizer)).status_code == 409

    await add_ticket_type(database, org, event["id"])
    assert (await http.post(f"{url}/publish", headers=org.user)).status_code == 403
    live = await publish(http, org, event["id"])
    assert live["status"] == "published" and live["published_at"]
    again = await http.post(f"{url}/publish", headers=org.organizer)
    assert again.status_code == 409
    assert again.json()["type"] == "urn:ticketing:problem:illegal-transition"
    assert (await http.delete(url, headers=org.organizer)).status_code == 409
    done = await http.post(f"{url}/complete", headers=org.organizer)
    assert done.status_code == 200 and done.json()["status"] == "completed"
    assert (await http.post(f"{url}/cancel", headers=org.organizer)).status_code == 409
    assert (await http.patch(url, json={"title": "Late"}, headers=org.organizer)).status_code == 409

    past = await create(
        http, org, physical("Too late", starts_at=at("2020-01-01"), ends_at=at("2020-01-02"))
    )
    await add_ticket_type(database, org, past["id"])
    stale = await http.post(f"{org.events}/{past['id']}/publish", headers=org.organizer)
    assert [r["code"] for r in stale.json()["reasons"]] == ["first-date-passed"]

    to_cancel = await create(http, org, physical("Cancelled"))
    await add_ticket_type(database, org, to_cancel["id"])
    await publish(http, org, to_cancel["id"])
    cancelled = await http.post(
        f"{org.events}/{to_cancel['id']}/cancel",
        json={"reason": "The band split up"},
        headers=org.organizer,
    )
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    async with database.transaction() as session:
        rows = (
            await session.scalars(
                select(OutboxEvent).where(
                    OutboxEvent.payload["event_id"].astext.in_([event["id"], to_cancel["id"]])
                )
            )
        ).all()
    topics = {(str(row.payload["event_id"]), row.topic) for row in rows}
    assert {
        (event["id"], "event.created"),
        (event["id"], "event.published"),
        (event["id"], "event.completed"),
        (to_cancel["id"], "event.cancelled"),
    } <= topics
    (cancel_row,) = [row for row in rows if row.topic == "event.cancelled"]
    assert cancel_row.organization_id == uuid.UUID(org.id)
    assert cancel_row.payload["reason"] == "The band split up"
    assert cancel_row.payload["organization_id"] == org.id

    draft = await create(http, org, physical("Dropped"))
    no_reason = await http.post(f"{org.events}/{draft['id']}/cancel", headers=org.organizer)
    assert no_reason.status_code == 200, no_reason.text
    deletable = await create(http, org, physical("Deleted"))
    assert (
        await http.delete(f"{org.events}/{deletable['id']}", headers=org.organizer)
    ).status_code == 204
    assert (await http.get(f"{org.events}/{deletable['id']}", headers=org.user)).status_code == 404

    audit = await http.get(
        f"/api/v1/organizations/{org.id}/audit-log",
        params={"action": "event.cancelled"},
        headers=org.admin,
    )
    assert to_cancel["id"] in {entry["target_id"] for entry in audit.json()["items"]}


# --------------------------------------------------------------------------------------
# Public browsing, the stream link, the cache
# --------------------------------------------------------------------------------------


async def test_public_detail_shows_published_events_without_the_stream(
    http: httpx.AsyncClient, database: Database, org: Org
) -> None:
    draft = await create(http, org, virtual("Draft stream"))
    assert (await http.get(f"/api/v1/events/{draft['id']}")).status_code == 404

    event = await create(http, org, virtual("Public stream", category="conference"))
    await add_ticket_type(database, org, event["id"], 2500)
    await add_ticket_type(database, org, event["id"], 100, Visibility.HIDDEN)
    await publish(http, org, event["id"])
    answer = await http.get(f"/api/v1/events/{event['id']}")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert "stream_url" not in body and "stream.example.com" not in answer.text
    assert body["has_stream"] is True
    assert body["min_price"] == 2500
    assert [t["price_amount"] for t in body["ticket_types"]] == [2500]
    assert len(body["dates"]) == 1 and body["category"]["slug"] == "conference"


async def test_stream_link_for_members_and_ticket_holders_only(
    http: httpx.AsyncClient, database: Database, org: Org
) -> None:
    event = await create(http, org, virtual("Streamed"))
    stream = f"/api/v1/events/{event['id']}/stream"
    assert (await http.get(stream)).status_code == 401
    member = await http.get(stream, headers=org.user)
    assert member.status_code == 200, member.text
    assert member.json()["stream_url"] == "https://stream.example.com/live/abc"
    assert member.headers["cache-control"] == "private, no-store"

    outsider = await signed_in_user(http)
    outsider_id = (await http.get("/api/v1/me", headers=outsider)).json()["id"]
    HOLDERS.holders.add((event["id"], outsider_id))
    assert (await http.get(stream, headers=outsider)).status_code == 404  # still a draft
    await add_ticket_type(database, org, event["id"])
    await publish(http, org, event["id"])
    holder = await http.get(stream, headers=outsider)
    assert holder.status_code == 200, holder.text
    stranger = await signed_in_user(http)
    assert (await http.get(stream, headers=stranger)).status_code == 404

    in_person = await create(http, org, physical("No stream here"))
    no_stream = await http.get(f"/api/v1/events/{in_person['id']}/stream", headers=org.user)
    assert no_stream.status_code == 404


async def test_public_search_filters_sorting_and_cursor_pages(
    http: httpx.AsyncClient, database: Database, org: Org
) -> None:
    group, jazz = tag(), tag()
    common = {"tags": [group]}
    a = await published(
        http,
        database,
        org,
        physical(
            f"Zanzibar Jazz Night {group}",
            category="music",
            tags=[group, jazz],
            latitude=52.52,
            longitude=13.405,
            starts_at=at("2030-03-01"),
            ends_at=at("2030-03-01", 23),
        ),
        prices=(1000, 3000),
    )
    b = await published(
        http,
        database,
        org,
        physical(
            f"Harbor Run {group}",
            category="sports",
            **common,
            latitude=52.39,
            longitude=13.065,
            starts_at=at("2030-04-01"),
            ends_at=at("2030-04-01", 23),
        ),
        prices=(2500, 5000),
    )
    c = await published(
        http,
        database,
        org,
        physical(
            f"Jazz Brunch {group}",
            category="music",
            tags=[group, jazz],
            latitude=48.137,
            longitude=11.575,
            starts_at=at("2030-05-01"),
            ends_at=at("2030-05-01", 23),
        ),
        prices=(500,),
    )
    d = await published(
        http,
        database,
        org,
        virtual(
            f"Online Summit {group}",
            category="conference",
            **common,
            starts_at=None,
            ends_at=None,
            dates=[
                {"starts_at": at("2030-02-01"), "ends_at": at("2030-02-01", 22)},
                {"starts_at": at("2030-06-01"), "ends_at": at("2030-06-01", 22)},
            ],
        ),
        prices=(0,),
    )
    await create(http, org, physical(f"Draft {group}", **common))  # never listed publicly
    ids = {e["id"]: name for name, e in {"a": a, "b": b, "c": c, "d": d}.items()}

    async def found(**params) -> list[str]:
        answer = await http.get("/api/v1/events", params={"tags": group, **params})
        assert answer.status_code == 200, answer.text
        page = answer.json()
        assert page["total"] == len(page["items"]) or page["next_cursor"]
        return [ids[item["id"]] for item in page["items"]]

    assert await found() == ["d", "a", "b", "c"]
    assert await found(sort="-starts_at") == ["c", "b", "a", "d"]
    assert await found(sort="title") == ["b", "c", "d", "a"]
    assert await found(sort="price") == ["d", "c", "a", "b"]
    assert await found(q="jazz") in (["a", "c"], ["c", "a"])
    assert await found(q='"jazz night"') == ["a"]
    assert await found(q="jazz -brunch") == ["a"]
    assert await found(category="music") == ["a", "c"]
    assert await found(tags=f"{group},{jazz}") == ["a", "c"]
    assert await found(tags=[group, jazz.upper()]) == ["a", "c"]
    assert await found(kind="virtual") == ["d"]
    # a date in the range, not just the span: the summit's dates are in February and June
    assert await found(
        starts_after="2030-03-15T00:00:00Z", starts_before="2030-05-15T00:00:00Z"
    ) == [
        "b",
        "c",
    ]
    assert await found(starts_after="2030-05-15T00:00:00Z") == ["d"]
    assert await found(lat=52.52, lng=13.405, radius_km=50) == ["a", "b"]
    assert await found(lat=52.52, lng=13.405, radius_km=5) == ["a"]
    assert await found(lat=52.52, lng=13.405, radius_km=600) == ["a", "b", "c"]
    assert await found(min_price=600, max_price=3000) == ["a", "b"]
    assert await found(max_price=0) == ["d"]
    near = (
        await http.get(
            "/api/v1/events", params={"tags": group, "lat": 52.52, "lng": 13.405, "radius_km": 50}
        )
    ).json()
    assert 20 < near["items"][1]["distance_km"] < 35

    first = (await http.get("/api/v1/events", params={"tags": group, "limit": 3})).json()
    assert first["total"] == 4
    assert [ids[i["id"]] for i in first["items"]] == ["d", "a", "b"]
    assert "stream_url" not in first["items"][0]
    second = (
        await http.get(
            "/api/v1/events", params={"tags": group, "limit": 3, "cursor": first["next_cursor"]}
        )
    ).json()
    assert [ids[i["id"]] for i in second["items"]] == ["c"]
    assert second["next_cursor"] is None and second["total"] == 4
    by_price = (
        await http.get("/api/v1/events", params={"tags": group, "limit": 2, "sort": "price"})
    ).json()
    rest = (
        await http.get(
            "/api/v1/events",
            params={"tags": group, "limit": 2, "sort": "price", "cursor": by_price["next_cursor"]},
        )
    ).json()
    assert [ids[i["id"]] for i in by_price["items"] + rest["items"]] == ["d", "c", "a", "b"]

    mixed = await http.get("/api/v1/events", params={"tags": jazz, "cursor": first["next_cursor"]})
    assert "cursor" in problem_fields(mixed)
    assert "cursor" in problem_fields(await http.get("/api/v1/events", params={"cursor": "junk"}))
    assert "status" in problem_fields(await http.get("/api/v1/events", params={"status": "draft"}))
    assert "radius_km" in problem_fields(
        await http.get("/api/v1/events", params={"lat": 1, "lng": 2})
    )
    assert "sort" in problem_fields(await http.get("/api/v1/events", params={"sort": "relevance"}))

    done = await http.post(f"{org.events}/{b['id']}/complete", headers=org.organizer)
    assert done.status_code == 200
    assert await found() == ["d", "a", "c"]
    assert await found(status="completed") == ["b"]
    assert await found(status=["published", "completed"], sort="title") == ["b", "c", "d", "a"]

    mine = await http.get(org.events, params={"tags": group, "status": "draft"}, headers=org.user)
    assert [e["title"] for e in mine.json()["items"]] == [f"Draft {group}"]
    everything = (await http.get(org.events, params={"tags": group}, headers=org.user)).json()
    assert everything["total"] == 5
    assert everything["items"][0]["stream_url"] == "https://stream.example.com/live/abc"


async def test_public_cache_serves_changes_at_once(
    http: httpx.AsyncClient, database: Database, org: Org
) -> None:
    group = tag()
    event = await published(http, database, org, physical(f"Cached {group}", tags=[group]))
    detail = f"/api/v1/events/{event['id']}"
    listing = {"tags": group}

    async def read_twice(path: str, **params) -> list[httpx.Response]:
        answers = [await http.get(path, params=params) for _ in range(2)]
        assert [a.status_code for a in answers] == [200, 200]
        assert answers[1].headers["x-cache"] == "hit"
        assert answers[0].content == answers[1].content
        return answers

    await read_twice(detail)
    await read_twice("/api/v1/events", **listing)

    for title in ("Renamed once", "Renamed twice"):
        changed = await http.patch(
            f"{org.events}/{event['id']}", json={"title": title}, headers=org.organizer
        )
        assert changed.status_code == 200
        fresh = await read_twice(detail)
        assert fresh[0].headers["x-cache"] == "miss"
        assert [a.json()["title"] for a in fresh] == [title, title]
        listed = await read_twice("/api/v1/events", **listing)
        assert [a.json()["items"][0]["title"] for a in listed] == [title, title]

    added = await http.post(
        f"{org.events}/{event['id']}/dates",
        json={"starts_at": at("2030-09-01"), "ends_at": at("2030-09-01", 23)},
        headers=org.organizer,
    )
    assert added.status_code == 201
    assert [len(a.json()["dates"]) for a in await read_twice(detail)] == [2, 2]

    cancelled = await http.post(f"{org.events}/{event['id']}/cancel", headers=org.organizer)
    assert cancelled.status_code == 200
    for _ in range(2):
        assert (await http.get(detail)).status_code == 404
        assert (await http.get("/api/v1/events", params=listing)).json()["total"] == 0


async def test_categories_are_public(http: httpx.AsyncClient) -> None:
    answer = await http.get("/api/v1/event-categories")
    assert answer.status_code == 200
    slugs = {c["slug"] for c in answer.json()["items"]}
    assert {
        "music",
        "sports",
        "theatre",
        "comedy",
        "conference",
        "festival",
        "family",
        "other",
    } <= slugs
