"""The sales report over HTTP, against figures computed from what was sold: each
grouping, CSV equal to JSON, paging, tenancy, permissions and bad input; redelivered
events change nothing; a rebuild from the outbox equals the incremental read model."""

from __future__ import annotations

import csv
import io
import uuid
from collections import defaultdict
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import text

from builtin_plugins.analytics.projection import CONSUMER, apply_event
from builtin_plugins.analytics.rebuild import rebuild
from kernel.db import Database
from kernel.outbox import replay_events
from tests.integration.analytics.support import Sold, delivered, read_model, sell
from tests.integration.conftest import new_organization
from tests.integration.orders.refund_support import shop_url_fixture  # noqa: F401 -- fixture
from tests.integration.orders.support import http_fixture  # noqa: F401 -- fixture
from tests.integration.ticketing.support import staff
from tests.support.outbox import deliveries, redeliver

BERLIN = ZoneInfo("Europe/Berlin")
SHOWN = {  # report column -> read-model counter
    "orders_placed": "orders_placed",
    "orders_paid": "orders_paid",
    "orders_cancelled": "orders_cancelled",
    "orders_expired": "orders_expired",
    "tickets_sold": "tickets_sold",
    "tickets_refunded": "tickets_refunded",
    "gross": "gross_amount",
    "discounts": "discount_amount",
    "tax": "tax_amount",
    "refunds": "refund_amount",
    "refunded_tax": "refund_tax_amount",
}


@pytest.fixture(scope="module")
async def sold(http: httpx.AsyncClient, database: Database) -> Sold:
    return await sell(http, database)


def report_url(sold: Sold) -> str:
    return f"{sold.shop.venue.base}/reports/sales"


async def report(http: httpx.AsyncClient, sold: Sold, headers=None, **params) -> list[dict]:
    """Every group, page after page (two a page, so paging is exercised)."""
    items, cursor = [], None
    while True:
        query = {"limit": 2, **params, **({"cursor": cursor} if cursor else {})}
        answer = await http.get(
            report_url(sold), params=query, headers=headers or sold.shop.venue.admin
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        items += body["items"]
        if (cursor := body["next_cursor"]) is None:
            assert body["total"] == len(items)
            return items


def shown(item: dict) -> dict[str, int]:
    return {column: item[column] for column in SHOWN}


def summed(sold: Sold, by) -> dict:
    """The expected figures per group: ``by(ticket_type_id, promo_code)`` names the group."""
    totals: dict = defaultdict(lambda: dict.fromkeys(SHOWN, 0))
    for (ticket_type, promo), counters in sold.expected.items():
        for column, counter in SHOWN.items():
            totals[by(ticket_type, promo)][column] += counters[counter]
    return dict(totals)


def today() -> str:
    return datetime.now(BERLIN).date().isoformat()


async def test_each_grouping_shows_the_figures_of_what_was_sold(
    http: httpx.AsyncClient, sold: Sold
) -> None:
    by_type = {
        item["group"]: shown(item) for item in await report(http, sold, group_by="ticket_type")
    }
    assert by_type == summed(sold, lambda ticket_type, promo: ticket_type)
    by_code = {
        item["group"]: shown(item) for item in await report(http, sold, group_by="promo_code")
    }
    assert by_code == summed(sold, lambda ticket_type, promo: promo)
    assert set(by_code) == {None, sold.promo_code}
    everything = summed(sold, lambda *_: "all")["all"]
    (online,) = await report(http, sold, group_by="channel")
    assert online["group"] == "online" and shown(online) == everything
    (day,) = await report(http, sold, group_by="day")
    assert day["group"] == today() and shown(day) == everything
    (week,) = await report(http, sold, group_by="week")
    monday = date.fromisoformat(today()) - timedelta(days=date.fromisoformat(today()).weekday())
    assert week["group"] == monday.isoformat() and shown(week) == everything
    assert week["currency"] == "EUR"
    assert week["net"] == week["gross"] - week["refunds"] - (week["tax"] - week["refunded_tax"])
    assert everything["tickets_sold"] == 9 and everything["discounts"] > 0
    assert everything["tax"] > 0 and everything["refunds"] > 0


async def test_csv_export_equals_the_json_pages(http: httpx.AsyncClient, sold: Sold) -> None:
    for group_by in ("ticket_type", "promo_code", "day"):
        pages = await report(http, sold, group_by=group_by)
        answer = await http.get(
            report_url(sold),
            params={"group_by": group_by},
            headers={**sold.shop.venue.admin, "Accept": "text/csv"},
        )
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(answer.text)))
        assert list(rows[0])[0] == group_by
        assert [
            {k: (None if v == "" and k == group_by else v) for k, v in row.items()} for row in rows
        ] == [
            {
                (group_by if k == "group" else k): (
                    v if v is None or isinstance(v, str) else str(v)
                )
                for k, v in item.items()
            }
            for item in pages
        ]
    explicit = await http.get(
        report_url(sold), params={"format": "csv"}, headers=sold.shop.venue.admin
    )
    assert explicit.status_code == 200 and explicit.text.startswith("day,currency,")


async def test_filters_by_event_and_days(http: httpx.AsyncClient, sold: Sold) -> None:
    everything = summed(sold, lambda *_: "all")["all"]
    (one,) = await report(http, sold, event_id=str(sold.shop.event_id), **{"from": today()})
    assert shown(one) == everything
    yesterday = (date.fromisoformat(today()) - timedelta(days=1)).isoformat()
    assert await report(http, sold, to=yesterday) == []


async def test_another_organization_sees_nothing_and_a_member_without_the_permission_none(
    http: httpx.AsyncClient, sold: Sold
) -> None:
    other_id, other_admin = await new_organization(http)
    mine = f"/api/v1/organizations/{other_id}/reports/sales"
    answer = await http.get(mine, headers=other_admin)
    assert answer.status_code == 200 and answer.json()["items"] == []
    foreign = await http.get(
        mine, params={"event_id": str(sold.shop.event_id)}, headers=other_admin
    )
    assert foreign.status_code == 404
    theirs = await http.get(report_url(sold), headers=other_admin)
    assert theirs.status_code in (403, 404) and "items" not in theirs.json()
    door = await staff(http, sold.shop.venue, "door_staff")
    refused = await http.get(report_url(sold), headers=door)
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize(
    "params",
    [
        {"group_by": "month"},
        {"limit": 0},
        {"limit": 501},
        {"from": "2026-02-01", "to": "2026-01-01"},
        {"from": "2020-01-01", "to": "2026-01-01"},
        {"from": "yesterday"},
        {"cursor": "not-a-cursor"},
        {"currency": "euro"},
        {"format": "xml"},
    ],
)
async def test_bad_input_is_a_422_problem(http: httpx.AsyncClient, sold: Sold, params) -> None:
    answer = await http.get(report_url(sold), params=params, headers=sold.shop.venue.admin)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")


async def test_a_redelivered_event_changes_nothing(
    http: httpx.AsyncClient, database: Database, sold: Sold
) -> None:
    organization_id = sold.shop.venue.organization_id
    before = await read_model(database, organization_id)
    async with database.transaction() as session:
        paid = await session.scalar(
            text(
                "SELECT id FROM outbox_event WHERE organization_id = :org AND topic = 'order.paid' "
                "ORDER BY occurred_at LIMIT 1"
            ),
            {"org": uuid.UUID(organization_id)},
        )
    await redeliver(database, paid, CONSUMER)  # the relay's own record of it is gone
    await _wait_delivered(database, paid)
    async with database.transaction() as session:
        events = [
            e
            async for e in replay_events(
                session, organization_id=uuid.UUID(organization_id), topics=("order.paid",)
            )
        ]
        assert [await apply_event(session, event) for event in events] == [False] * len(events)
    assert await deliveries(database, paid, CONSUMER) == 1  # handed over again
    assert await read_model(database, organization_id) == before


async def _wait_delivered(database: Database, event_id: uuid.UUID) -> None:
    import asyncio
    import time

    deadline = time.monotonic() + 30
    while True:
        async with database.transaction() as session:
            done = await session.scalar(
                text("SELECT dispatched_at IS NOT NULL FROM outbox_event WHERE id = :id"),
                {"id": event_id},
            )
        if done:
            return
        assert time.monotonic() < deadline, "the event was not delivered again"
        await asyncio.sleep(0.05)


async def test_a_rebuild_equals_the_incremental_read_model_across_two_days(
    http: httpx.AsyncClient, database: Database, sold: Sold
) -> None:
    organization_id = sold.shop.venue.organization_id
    org = uuid.UUID(organization_id)
    incremental = await read_model(database, organization_id)
    assert incremental
    assert await rebuild(database, org) == {org: len(await _events(database, org))}
    assert await read_model(database, organization_id) == incremental

    # Two days: the first two orders' events happened yesterday. The relay applies them
    # again (the read model started afresh), then a rebuild must find the same state.
    first_two = [uuid.UUID(order_id) for order_id in sold.order_ids[:2]]
    async with database.transaction() as session:
        await session.execute(
            text(
                "UPDATE outbox_event SET occurred_at = occurred_at - interval '1 day' "
                "WHERE organization_id = :org AND payload->>'order_id' = ANY(:orders)"
            ),
            {"org": org, "orders": [str(o) for o in first_two]},
        )
        for table in ("analytics_sales", "analytics_ticket_activity", "analytics_applied_event"):
            await session.execute(
                text(f"DELETE FROM {table} WHERE organization_id = :org"), {"org": org}
            )
    for event_id in await _events(database, org):
        await redeliver(database, event_id, CONSUMER)
    await delivered(database, organization_id)
    incremental = await read_model(database, organization_id)
    days = await report(http, sold, group_by="day")
    yesterday = (date.fromisoformat(today()) - timedelta(days=1)).isoformat()
    assert [d["group"] for d in days] == [yesterday, today()]
    assert days[0]["orders_paid"] == 2 and days[0]["tickets_sold"] == 4
    assert sum(d["gross"] for d in days) == summed(sold, lambda *_: "all")["all"]["gross"]

    await rebuild(database)  # every organization, this one among them
    assert await read_model(database, organization_id) == incremental


async def _events(database: Database, org: uuid.UUID) -> list[uuid.UUID]:
    from builtin_plugins.analytics.projection import ALL_TOPICS

    async with database.transaction() as session:
        return list(
            await session.scalars(
                text(
                    "SELECT id FROM outbox_event WHERE organization_id = :org AND topic = ANY(:t)"
                ),
                {"org": org, "t": list(ALL_TOPICS)},
            )
        )
