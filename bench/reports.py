"""Benchmark the reports: seed a large organization, rebuild its read models, time each
report endpoint through the public HTTP API.

Creates and migrates a database of its own (``--database``, default
``ticketing_bench_reports``) on the local PostgreSQL and seeds one organization with
``--events`` published events (a date and three ticket types each, time zones mixed)
and ``--orders`` orders over the 120 days before now: one or two lines each, some with a
promo code; about 82 % paid, 8 % expired, 5 % cancelled, 5 % paid then refunded in
money. Rows and their outbox events (``order.pending_payment``, then ``order.paid`` /
``order.expired`` / ``order.cancelled``, ``order.refunded``) are written with ``COPY``,
as the checkout and refund paths would have written them, the events already marked
delivered so no relay applies them.

It then times ``ticketing analytics rebuild`` of the organization (every read model
replayed from the events: sales, ticket activity, demographics) and asks each report
``--requests`` times of one ``ticketing serve`` process, as the organization's owner (an
HS256 session token, as a NextAuth front end would send), printing p50 and p99 per
report. The reconciliation reports need a payment provider's records and are not timed
here.

    .venv/bin/python bench/reports.py
    .venv/bin/python bench/reports.py --orders 20000 --requests 20

Not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import jwt

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import _flash_support as support  # noqa: E402

from builtin_plugins.analytics.rebuild import rebuild  # noqa: E402
from kernel.db import Database  # noqa: E402

NEXTAUTH_SECRET = "bench-reports-nextauth-secret-0123456789"
TIMEZONES = ("Europe/Berlin", "America/New_York", "UTC", "Asia/Tokyo", "Australia/Sydney")
PRICES = (2500, 5000, 9000)
PROMO_CODES = ("EARLY10", "FRIENDS", "PRESS")
TAX_RATE = 0.19
SALE_DAYS = 120

ORDER_COLUMNS = (
    "id organization_id code event_id buyer_email buyer_name hold_owner access_token_hash "
    "status currency subtotal_amount discount_amount tax_amount fee_amount total_amount "
    "expires_at payment_provider promo_code refunded_amount paid_at closed_at created_at "
    "updated_at"
).split()
LINE_COLUMNS = (
    "id organization_id order_id position ticket_type_id event_date_id quantity "
    "unit_price_amount discount_amount net_amount tax_amount gross_amount pricing"
).split()
EVENT_COLUMNS = "id topic organization_id payload occurred_at next_attempt_at dispatched_at"


def owner_token(email: str) -> str:
    now = int(time.time())
    claims = {"sub": email, "email": email, "name": "Report Owner", "iat": now}
    return jwt.encode({**claims, "exp": now + 3600}, NEXTAUTH_SECRET, algorithm="HS256")


async def seed_catalog(connection: asyncpg.Connection, organization_id: uuid.UUID, count: int):
    """``count`` published events, each with one date and three ticket types."""
    now = datetime.now(UTC).replace(microsecond=0)
    events = []
    for index in range(count):
        event_id, date_id = uuid.uuid4(), uuid.uuid4()
        starts = now + timedelta(days=10 + index % 60, hours=19)
        timezone = TIMEZONES[index % len(TIMEZONES)]
        await connection.execute(
            "INSERT INTO event (id, organization_id, slug, title, description, starts_at,"
            " ends_at, timezone, currency, status, published_at, capacity)"
            " VALUES ($1, $2, $3, $4, '', $5, $6, $7, 'EUR', 'published', $8, 5000)",
            event_id,
            organization_id,
            f"bench-event-{index}",
            f"Bench event {index}",
            starts,
            starts + timedelta(hours=4),
            timezone,
            now - timedelta(days=SALE_DAYS),
        )
        await connection.execute(
            "INSERT INTO event_date (id, organization_id, event_id, starts_at, ends_at)"
            " VALUES ($1, $2, $3, $4, $5)",
            date_id,
            organization_id,
            event_id,
            starts,
            starts + timedelta(hours=4),
        )
        types = []
        for position, price in enumerate(PRICES):
            type_id = uuid.uuid4()
            await connection.execute(
                "INSERT INTO ticket_type (id, organization_id, event_id, name, price_amount,"
                " currency, position) VALUES ($1, $2, $3, $4, $5, 'EUR', $6)",
                type_id,
                organization_id,
                event_id,
                f"Tier {position + 1}",
                price,
                position,
            )
            types.append((type_id, price))
        events.append((event_id, date_id, types))
    return events


def seed_orders(organization_id: uuid.UUID, events: list, count: int, rng: random.Random):
    """Rows of ``ticket_order``, ``order_line`` and ``outbox_event`` for ``count`` orders."""
    now = datetime.now(UTC)
    orders, lines, outbox = [], [], []
    for number in range(count):
        event_id, date_id, types = rng.choice(events)
        order_id = uuid.uuid4()
        placed = now - timedelta(seconds=rng.uniform(0, SALE_DAYS * 86400))
        promo = rng.choice(PROMO_CODES) if rng.random() < 0.15 else None
        subtotal = discount = tax = 0
        for position in range(1 if rng.random() < 0.7 else 2):
            type_id, price = types[rng.randrange(len(types))]
            quantity = rng.randint(1, 4)
            line_discount = price * quantity // 10 if promo else 0
            net = round((price * quantity - line_discount) / (1 + TAX_RATE))
            gross = price * quantity - line_discount
            lines.append(
                (
                    uuid.uuid4(),
                    organization_id,
                    order_id,
                    position,
                    type_id,
                    date_id,
                    quantity,
                    price - line_discount // quantity,
                    line_discount,
                    net,
                    gross - net,
                    gross,
                    "{}",
                )
            )
            subtotal, discount, tax = subtotal + net, discount + line_discount, tax + gross - net
        total = subtotal + tax
        fate = rng.random()
        status = (
            "expired"
            if fate < 0.08
            else "cancelled"
            if fate < 0.13
            else "refunded"
            if fate < 0.18
            else "paid"
        )
        closed = placed + timedelta(minutes=rng.uniform(1, 30))
        paid_at = closed if status in ("paid", "refunded") else None
        orders.append(
            (
                order_id,
                organization_id,
                f"B{number:09d}",
                event_id,
                f"buyer-{number}@example.com",
                f"Buyer {number}",
                f"cart:{order_id.hex}",
                "0" * 64,
                status,
                "EUR",
                subtotal,
                discount,
                tax,
                0,
                total,
                placed + timedelta(minutes=30),
                "manual",
                promo,
                total if status == "refunded" else 0,
                paid_at,
                None if status == "paid" else closed,
                placed,
                closed,
            )
        )

        def event(topic: str, at: datetime, **payload) -> None:
            outbox.append((uuid.uuid4(), topic, organization_id, json.dumps(payload), at, at, at))

        ids = {"order_id": str(order_id), "event_id": str(event_id)}
        event("order.pending_payment", placed, **ids, status="pending_payment")
        if status in ("paid", "refunded"):
            event("order.paid", closed, **ids, status="paid")
        else:
            event(f"order.{status}", closed, **ids, status=status)
        if status == "refunded":
            refunded_at = closed + timedelta(days=rng.uniform(0, 5))
            event(
                "order.refunded",
                min(refunded_at, now),
                **ids,
                refund_id=str(uuid.uuid4()),
                amount={"amount": total, "currency": "EUR"},
                tax=tax,
                status="refunded",
            )
    return orders, lines, outbox


async def seed(url: str, events: int, orders: int, owner_email: str, base: str) -> uuid.UUID:
    """The owner's organization (made through the API, so the owner is a member), its
    catalog and its orders; returns its id."""
    headers = {"Authorization": f"Bearer {owner_token(owner_email)}"}
    async with httpx.AsyncClient(base_url=base, timeout=30) as api:
        assert (await api.get("/api/v1/me", headers=headers)).status_code == 200
        created = await api.post(
            "/api/v1/organizations",
            json={"slug": f"bench-{uuid.uuid4().hex[:12]}", "name": "Report bench"},
            headers=headers,
        )
        created.raise_for_status()
        organization_id = uuid.UUID(created.json()["id"])
    connection = await asyncpg.connect(url)
    try:
        catalog = await seed_catalog(connection, organization_id, events)
        rows = seed_orders(organization_id, catalog, orders, random.Random(7))
        async with connection.transaction():
            await connection.copy_records_to_table(
                "ticket_order", records=rows[0], columns=ORDER_COLUMNS
            )
            await connection.copy_records_to_table(
                "order_line", records=rows[1], columns=LINE_COLUMNS
            )
            await connection.copy_records_to_table(
                "outbox_event", records=rows[2], columns=EVENT_COLUMNS.split()
            )
        await connection.execute("ANALYZE")
        print(
            f"seeded {events} events, {len(rows[0]):,} orders, {len(rows[1]):,} lines, "
            f"{len(rows[2]):,} outbox events"
        )
    finally:
        await connection.close()
    return organization_id


def reports(organization_id: uuid.UUID, event_id: str) -> list[tuple[str, str, dict]]:
    """(name, path, query) of each report asked."""
    sales = f"/api/v1/organizations/{organization_id}/reports/sales"
    asked = [
        (f"sales by {group}", sales, {"group_by": group})
        for group in ("day", "week", "ticket_type", "promo_code", "channel")
    ]
    asked += [
        ("sales by day, one event", sales, {"group_by": "day", "event_id": event_id}),
        ("sales by day, CSV", sales, {"group_by": "day", "format": "csv"}),
    ]
    event = f"/api/v1/organizations/{organization_id}/reports/events/{event_id}"
    asked += [
        ("event performance", f"{event}/performance", {}),
        ("event performance, CSV", f"{event}/performance", {"format": "csv"}),
        ("event projection", f"{event}/projection", {}),
        ("event demographics", f"{event}/demographics", {}),
        (
            "organization demographics",
            f"/api/v1/organizations/{organization_id}/reports/demographics",
            {},
        ),
    ]
    return asked


async def time_reports(
    base: str, owner_email: str, asked: list[tuple[str, str, dict]], requests: int
) -> None:
    headers = {"Authorization": f"Bearer {owner_token(owner_email)}"}
    async with httpx.AsyncClient(base_url=base, timeout=60, headers=headers) as api:
        print(f"\n{'report':<32} {'p50':>8} {'p99':>8}  answer")
        for name, path, query in asked:
            timings = []
            for _ in range(requests):
                started = time.perf_counter()
                answer = await api.get(path, params=query)
                timings.append(1000 * (time.perf_counter() - started))
                if answer.status_code != 200:
                    raise SystemExit(f"{name}: {answer.status_code} {answer.text[:300]}")
            timings.sort()
            p99 = timings[min(len(timings) - 1, int(0.99 * len(timings)))]
            size = f"{len(answer.content):,} bytes"
            print(f"{name:<32} {statistics.median(timings):>6.0f}ms {p99:>6.0f}ms  {size}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=50)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=50, help="per report")
    parser.add_argument("--port", type=int, default=8300)
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--database", default="ticketing_bench_reports")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13", help="'' for none")
    args = parser.parse_args()

    support.recreate_database(args.database_url, args.database)
    url = support.admin_url(args.database_url, args.database)
    print(f"creating {args.database}, migrating ...")
    support.migrate(url)
    os.environ["NEXTAUTH_SECRET"] = NEXTAUTH_SECRET
    servers = support.start_servers(url, 1, args.port, args.redis_url, pool=10)
    try:
        base = servers[0][1]
        owner = f"owner-{uuid.uuid4().hex[:8]}@example.com"
        organization_id = asyncio.run(seed(url, args.events, args.orders, owner, base))

        async def timed_rebuild() -> float:
            database = Database(url)
            try:
                started = time.perf_counter()
                applied = await rebuild(database, organization_id)
                took = time.perf_counter() - started
            finally:
                await database.dispose()
            print(
                f"rebuild: {applied[organization_id]:,} events applied in {took:.1f} s "
                f"({applied[organization_id] / took:,.0f} events/s)"
            )
            return took

        asyncio.run(timed_rebuild())
        event_id = asyncio.run(first_event(url, organization_id))
        asyncio.run(time_reports(base, owner, reports(organization_id, event_id), args.requests))
    finally:
        support.stop_servers(servers)


async def first_event(url: str, organization_id: uuid.UUID) -> str:
    connection = await asyncpg.connect(url)
    try:
        found = await connection.fetchval(
            "SELECT id FROM event WHERE organization_id = $1 ORDER BY slug LIMIT 1",
            organization_id,
        )
    finally:
        await connection.close()
    return str(found)


if __name__ == "__main__":
    main()
