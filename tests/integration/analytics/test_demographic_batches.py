"""A batch of order events applied to the demographics gives exactly the rows one at a
time gives, on a sequence where order inside the batch matters: a buyer paying for a
second event (returning), an order paid then refunded, two partial refunds of one line,
a buyer who comes back for the event after a full refund, and events delivered twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.analytics.demographic_projection import TOPICS, apply_demographic_events
from kernel.db import Database
from kernel.outbox import replay_events
from sdk.outbox import DomainEvent
from tests.integration.analytics.test_demographics import buy, delivered_demographics, email
from tests.integration.orders.refund_support import (
    order_view,
    refund,
    shop_url_fixture,  # noqa: F401 -- fixture
)
from tests.integration.orders.support import (
    http_fixture,  # noqa: F401 -- fixture
    open_shop,
)
from tests.support.sales import published_event


class _Rollback(Exception):
    """Leaves what a scenario wrote behind: each one starts from the same rows."""


async def rows(session: AsyncSession, org: uuid.UUID) -> list[list[tuple]]:
    found = []
    for table, order in (
        ("analytics_demographic_member", "event_id, dimension, value, role, person"),
        ("analytics_demographic_order", "order_id"),
        ("analytics_first_seen_buyer", "buyer"),
        ("analytics_demographic_applied_event", "event_id"),
    ):
        columns = "event_id, topic" if table.endswith("applied_event") else "*"
        answer = await session.execute(
            text(f"SELECT {columns} FROM {table} WHERE organization_id = :org ORDER BY {order}"),
            {"org": org},
        )
        found.append([tuple(row) for row in answer])
    return found


async def replayed(
    database: Database, org: uuid.UUID, sequence: Sequence[DomainEvent], size: int
) -> tuple[list[int], list[list[tuple]]]:
    """From no rows, ``sequence`` applied ``size`` events at a time: what each call
    said and the rows left (rolled back)."""
    said: list[int] = []
    try:
        async with database.transaction() as session:
            for table in (
                "analytics_demographic_member",
                "analytics_demographic_order",
                "analytics_first_seen_buyer",
                "analytics_demographic_applied_event",
            ):
                await session.execute(
                    text(f"DELETE FROM {table} WHERE organization_id = :org"), {"org": org}
                )
            for start in range(0, len(sequence), size):
                said.append(await apply_demographic_events(session, sequence[start : start + size]))
            left = await rows(session, org)
            raise _Rollback
    except _Rollback:
        pass
    return said, left


async def test_a_batch_gives_what_one_event_at_a_time_gives(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database)
    venue = shop.venue
    event_b, type_b = await published_event(
        http, venue.organization_id, venue.admin, title="B", days_ahead=40, price=1000, capacity=50
    )
    asked = await http.post(
        f"{venue.event_base}/questions",
        json={"kind": "text", "label": "Country of residence"},
        headers=venue.admin,
    )
    assert asked.status_code == 201, asked.text
    country = asked.json()["id"]

    def attendee(person: str, value: str) -> dict:
        return {"name": "Some One", "email": person, "answers": {country: value}}

    returning, partial, gone = email(), email(), email()
    friends = [attendee(returning, "DE"), attendee(email(), "NL")]
    await buy(http, shop.event_id, shop.standard, returning, attendees=friends, quantity=2)
    await buy(http, uuid.UUID(event_b["id"]), type_b["id"], returning, billing="DE")
    three = [attendee(email(), value) for value in ("DE", "FR", "FR")]
    split = await buy(http, shop.event_id, shop.standard, partial, attendees=three, quantity=3)
    line = (await order_view(http, shop, split))["lines"][0]["id"]
    for _ in range(2):  # two partial refunds of one line: its last two attendees, FR
        answer = await refund(http, shop, split, lines=[{"line_id": line, "quantity": 1}])
        assert answer.status_code in (200, 201), answer.text
    full = await buy(
        http, shop.event_id, shop.standard, gone, attendees=[attendee(gone, "AT")], billing="AT"
    )
    answer = await refund(http, shop, full)
    assert answer.status_code in (200, 201), answer.text
    await buy(  # back for the same event after the refund: counted again, from zero
        http, shop.event_id, shop.standard, gone, attendees=[attendee(gone, "AT")], billing="AT"
    )
    await delivered_demographics(database, venue.organization_id)

    org = uuid.UUID(venue.organization_id)
    async with database.transaction() as session:
        events = [e async for e in replay_events(session, organization_id=org, topics=TOPICS)]
    assert [e.topic for e in events].count("order.refunded") == 3 and len(events) == 8
    # the first payment and a refund delivered again, inside the batch and across batches
    sequence = [*events[:4], events[0], *events[4:], events[3]]

    said, one_at_a_time = await replayed(database, org, sequence, 1)
    assert said == [1, 1, 1, 1, 0, 1, 1, 1, 1, 0]
    members, orders, seen, applied = one_at_a_time
    assert sorted(o[3] for o in orders) == ["new", "new", "new", "new", "returning"]
    assert sorted(o[4][line] for o in orders if line in o[4]) == [2]
    assert len(seen) == 3 and len(applied) == 8
    attendees = {
        (m[2], m[3]): m[6] for m in members if m[4] == "attendee" and m[1] == shop.event_id
    }
    assert {value for (dimension, value) in attendees if dimension == "country"} == {
        "DE",
        "NL",
        "AT",
    }
    for size in (len(sequence), 3, 2):
        batched, left = await replayed(database, org, sequence, size)
        assert sum(batched) == 8, size
        assert left == one_at_a_time, size
