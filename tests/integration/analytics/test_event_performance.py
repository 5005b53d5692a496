"""The event performance and projection reports over HTTP, against figures computed in
the test from what was sold, scanned and viewed; a rebuild reproduces the ticket
activity the relay built."""

from __future__ import annotations

import asyncio
import csv
import io
import uuid

import httpx
from sqlalchemy import text

from builtin_plugins.analytics.rebuild import rebuild
from kernel.db import Database
from tests.integration.analytics.support import delivered
from tests.integration.conftest import new_organization
from tests.integration.orders.refund_support import (  # noqa: F401 -- fixture
    TEST_PROVIDER,
    paid_order,
    shop_url_fixture,
)
from tests.integration.orders.support import (  # noqa: F401 -- fixture
    http_fixture,
    open_shop,
)
from tests.integration.ticketing.checkin_support import make_list, scan


async def _rows(database: Database, sql: str, **params) -> list[tuple]:
    async with database.transaction() as session:
        return [tuple(row) for row in await session.execute(text(sql), params)]


async def test_performance_projection_views_and_rebuild(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database)
    venue = shop.venue
    orders = [
        await paid_order(http, shop, provider=TEST_PROVIDER, standard=2),
        await paid_order(http, shop, provider=TEST_PROVIDER, standard=1, vip=1),
    ]
    tickets = [ticket for order in orders for ticket in order.tickets]
    assert len(tickets) == 4

    views_url = f"/api/v1/events/{venue.event_id}/views"
    counted = []
    for body in ({"visitor_id": "visitor-aaa"}, {"visitor_id": "visitor-aaa"}, {}, {}):
        answer = await http.post(views_url, json=body)
        assert answer.status_code == 202, answer.text
        counted.append(answer.json()["counted"])
    assert counted == [True, False, True, True]
    bad = await http.post(views_url, json={"visitor_id": "x" * 65})
    assert bad.status_code == 422 and bad.headers["content-type"].startswith(
        "application/problem+json"
    )
    assert (await http.post(f"/api/v1/events/{uuid.uuid4()}/views", json={})).status_code == 404

    door = await make_list(http, venue)
    for ticket in tickets[:2]:
        answer = await scan(http, venue, door["id"], ticket["code"])
        assert answer.status_code in (200, 201), answer.text
    await delivered(database, venue.organization_id)

    answer = await http.get(
        f"{venue.base}/reports/events/{venue.event_id}/performance", headers=venue.admin
    )
    assert answer.status_code == 200, answer.text
    report = answer.json()
    [(holds,)] = await _rows(
        database, "SELECT count(*) FROM inventory_hold WHERE event_id = :e", e=venue.event_id
    )
    lines = [line for order in orders for line in order.body["lines"]]
    net = sum(line["gross_amount"] - line["tax_amount"] for line in lines)
    assert report["views"] == 3
    assert report["holds"] == holds
    assert (report["orders_placed"], report["orders_paid"]) == (2, 2)
    assert report["tickets_sold"] == report["tickets_issued"] == 4
    assert report["checked_in"] == 2 and report["check_in_rate"] == 0.5
    assert report["no_shows"] is None  # the event has not ended
    assert report["net_revenue"] == net
    assert report["revenue_per_attendee"] == net // 2
    assert report["view_to_hold"] == round(holds / 3, 4)
    assert report["hold_to_order"] == round(2 / holds, 4)
    assert report["past_events"] == 0 and report["pace_vs_past"] is None
    by_capacity = {pool["capacity"]: pool for pool in report["pools"]}
    assert by_capacity[100]["sold"] == 3 and by_capacity[100]["use"] == 0.03
    assert by_capacity[20]["sold"] == 1 and by_capacity[20]["use"] == 0.05

    as_csv = await http.get(
        f"{venue.base}/reports/events/{venue.event_id}/performance",
        params={"format": "csv"},
        headers=venue.admin,
    )
    assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
    figures = dict(csv.reader(io.StringIO(as_csv.text)))
    assert figures["views"] == "3" and figures["checked_in"] == "2"

    projected = await http.get(
        f"{venue.base}/reports/events/{venue.event_id}/projection", headers=venue.admin
    )
    assert projected.status_code == 200, projected.text
    projection = projected.json()
    assert projection["sold"] == 4
    assert projection["method"] == "own_pace"
    assert 4 <= projection["low"] <= projection["expected_final"] <= projection["high"] <= 120
    expected = [day["expected"] for day in projection["days"]]
    assert expected == sorted(expected)

    other, other_admin = await new_organization(http)
    for path in ("performance", "projection"):
        foreign = await http.get(
            f"/api/v1/organizations/{other}/reports/events/{venue.event_id}/{path}",
            headers=other_admin,
        )
        assert foreign.status_code == 404, foreign.text

    activity = (
        "SELECT * FROM analytics_ticket_activity WHERE organization_id = :org "
        "ORDER BY event_id, event_date_id, day"
    )
    org = uuid.UUID(venue.organization_id)
    incremental = await _rows(database, activity, org=org)
    assert sum(row[4] for row in incremental) == 4  # tickets_issued
    assert sum(row[7] for row in incremental) == 2  # tickets_checked_in
    await rebuild(database, org)
    assert await _rows(database, activity, org=org) == incremental


async def test_a_visitor_racing_itself_is_counted_once(
    http: httpx.AsyncClient, database: Database
) -> None:
    venue = (await open_shop(http, database)).venue
    views_url = f"/api/v1/events/{venue.event_id}/views"
    answers = await asyncio.gather(
        *(http.post(views_url, json={"visitor_id": "racing-visitor"}) for _ in range(20))
    )
    assert [answer.status_code for answer in answers] == [202] * 20
    assert sorted(answer.json()["counted"] for answer in answers) == [False] * 19 + [True]
    report = await http.get(
        f"{venue.base}/reports/events/{venue.event_id}/performance", headers=venue.admin
    )
    assert report.status_code == 200, report.text
    assert report.json()["views"] == 1
