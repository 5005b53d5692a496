"""Tickets issued without an order are sales channels of their own: box-office and
complimentary tickets count on their channel's row, with no money, on the day they were
issued in the event's time zone; a rebuild gives the same rows."""

from __future__ import annotations

import uuid

import httpx

from builtin_plugins.analytics.rebuild import rebuild
from kernel.db import Database
from tests.integration.analytics.support import delivered, read_model
from tests.integration.orders.support import http_fixture, shop_url_fixture  # noqa: F401
from tests.integration.ticketing.support import open_venue

MONEY = ("gross", "discounts", "tax", "fees", "refunds", "refunded_tax", "net")


async def issue(http: httpx.AsyncClient, venue, kind: str, people: int) -> None:
    answer = await http.post(
        f"{venue.event_base}/tickets",
        json={
            "ticket_type_id": venue.ticket_type_id,
            "kind": kind,
            "holders": [
                {"name": f"Guest {n}", "email": f"guest-{uuid.uuid4().hex[:8]}@example.com"}
                for n in range(people)
            ],
        },
        headers=venue.admin,
    )
    assert answer.status_code == 201, answer.text


async def test_box_office_and_complimentary_tickets_are_their_own_channels(
    http: httpx.AsyncClient, database: Database
) -> None:
    venue = await open_venue(http, database)
    await issue(http, venue, "box_office", 2)
    await issue(http, venue, "box_office", 1)
    await issue(http, venue, "complimentary", 4)
    await delivered(database, venue.organization_id)

    answer = await http.get(
        f"{venue.base}/reports/sales", params={"group_by": "channel"}, headers=venue.admin
    )
    assert answer.status_code == 200, answer.text
    channels = {item["group"]: item for item in answer.json()["items"]}
    assert set(channels) == {"box_office", "complimentary"}
    assert channels["box_office"]["tickets_sold"] == 3
    assert channels["complimentary"]["tickets_sold"] == 4
    for item in channels.values():
        assert item["orders_placed"] == item["orders_paid"] == 0
        assert all(item[name] == 0 for name in MONEY if name in item)

    by_type = await http.get(
        f"{venue.base}/reports/sales", params={"group_by": "ticket_type"}, headers=venue.admin
    )
    ((ticket_type, tickets),) = [
        (item["group"], item["tickets_sold"]) for item in by_type.json()["items"]
    ]
    assert (ticket_type, tickets) == (venue.ticket_type_id, 7)

    before = await read_model(database, venue.organization_id)
    await rebuild(database, uuid.UUID(venue.organization_id))
    assert await read_model(database, venue.organization_id) == before
