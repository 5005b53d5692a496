"""Helpers of the analytics tests: a known set of orders sold over HTTP (paid, cancelled,
expired, refunded in part and in full; two ticket types, a promo code, a tax rule), the
figures a report must show computed from what the API said was sold, and waiting for
the relay to deliver."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field

import httpx
from sqlalchemy import text

from builtin_plugins.analytics.models import COUNTERS
from builtin_plugins.analytics.projection import ALL_TOPICS
from builtin_plugins.orders.expiry_jobs import expire_all
from kernel.db import Database
from tests.integration.orders.refund_support import TEST_PROVIDER, paid_order, refund
from tests.integration.orders.support import Buyer, Shop, make_overdue, open_shop, place
from tests.integration.promotions.support import make_code

WAIT_SECONDS = 30


@dataclass
class Sold:
    """An organization's sales and what each report group must add up to."""

    shop: Shop
    promo_code: str
    # (ticket type id, promo code or None) -> counter -> value; rows by order line
    expected: dict[tuple[str, str | None], dict[str, int]] = field(
        default_factory=lambda: defaultdict(lambda: dict.fromkeys(COUNTERS, 0))
    )
    order_ids: list[str] = field(default_factory=list)

    def add(self, key: tuple[str, str | None], **counters: int) -> None:
        for name, value in counters.items():
            self.expected[key][name] += value


async def _ledger_tax(http: httpx.AsyncClient, shop: Shop, order_id: str) -> int:
    """Tax the order's refunds gave back, from the ledger."""
    answer = await http.get(f"{shop.venue.base}/orders/{order_id}/ledger", headers=shop.venue.admin)
    assert answer.status_code == 200, answer.text
    return sum(
        entry["amount"]
        for t in answer.json()["items"]
        if t["kind"] == "refund"
        for entry in t["entries"]
        if entry["account"] == "tax"
    )


def _count_paid(sold: Sold, body: dict) -> None:
    promo = body["promo_code"]
    for position, line in enumerate(body["lines"]):
        sold.add(
            (line["ticket_type_id"], promo),
            orders_placed=1 if position == 0 else 0,
            orders_paid=1 if position == 0 else 0,
            tickets_sold=line["quantity"],
            gross_amount=line["gross_amount"],
            discount_amount=line["discount_amount"],
            tax_amount=line["tax_amount"],
        )


async def sell(http: httpx.AsyncClient, database: Database) -> Sold:
    """Seven orders; ``expected`` says what each (ticket type, promo code) must show."""
    shop = await open_shop(http, database)
    rule = await http.post(
        f"{shop.venue.base}/tax-rules",
        json={"name": "VAT 19%", "rate": "19", "price_includes_tax": True},
        headers=shop.venue.admin,
    )
    assert rule.status_code == 201, rule.text
    code = (await make_code(http, shop))["code"]
    sold = Sold(shop, code)

    async def paid(promo: str | None = None, **quantities: int):
        buyer = await Buyer.signed_in(http)
        if promo is None:
            order = await paid_order(http, shop, buyer, provider=TEST_PROVIDER, **quantities)
        else:
            order = await _paid_with_code(http, shop, buyer, promo, **quantities)
        sold.order_ids.append(order.id)
        _count_paid(sold, order.body)
        return order

    await paid(standard=2)
    await paid(code, standard=1, vip=1)
    partial = await paid(standard=3)
    full = await paid(code, vip=1)
    money = await paid(standard=1)

    # a partial refund of one ticket, a full refund, a refund of money only
    for order, body in (
        (partial, {"ticket_ids": [partial.tickets[0]["id"]]}),
        (full, {}),
        (money, {"amount": 1000}),
    ):
        answer = await refund(http, shop, order.id, **body)
        assert answer.status_code in (200, 201), answer.text
        tax = await _ledger_tax(http, shop, order.id)
        line = order.body["lines"][0]
        sold.add(
            (line["ticket_type_id"], order.body["promo_code"]),
            refund_amount=answer.json()["amount"],
            refund_tax_amount=tax,
            tickets_refunded=len(body.get("ticket_ids", [])) or (1 if not body else 0),
        )

    cancelled = await place(http, shop, Buyer.anonymous(), standard=1)
    answer = await http.post(
        f"{shop.orders}/{cancelled['order']['id']}/cancel",
        json={"reason": "changed plans"},
        headers=shop.venue.admin,
    )
    assert answer.status_code == 200, answer.text
    sold.add((shop.standard, None), orders_placed=1, orders_cancelled=1)

    expired = await place(http, shop, Buyer.anonymous(), vip=1)
    await make_overdue(database, expired["order"]["id"])
    await expire_all(database)
    sold.add((shop.vip, None), orders_placed=1, orders_expired=1)
    sold.order_ids += [cancelled["order"]["id"], expired["order"]["id"]]
    await delivered(database, shop.venue.organization_id)
    return sold


async def _paid_with_code(
    http: httpx.AsyncClient, shop: Shop, buyer: Buyer, code: str, **quantities: int
):
    from tests.integration.orders.refund_support import PaidOrder, checkout, take

    for name, quantity in quantities.items():
        await take(http, shop, buyer, getattr(shop, name), quantity)
    placed = await checkout(http, shop, buyer, payment_provider=TEST_PROVIDER, promo_code=code)
    assert placed.status_code == 201, placed.text
    order_id = placed.json()["order"]["id"]
    view = await http.get(f"{shop.orders}/{order_id}", headers=shop.venue.admin)
    assert view.status_code == 200 and view.json()["status"] == "paid", view.text
    return PaidOrder(order_id, buyer, view.json(), [])


async def delivered(database: Database, organization_id: str) -> None:
    """Wait until the analytics consumer took in every counted event of the organization."""
    deadline = time.monotonic() + WAIT_SECONDS
    sql = text(
        "SELECT (SELECT count(*) FROM outbox_event WHERE organization_id = :org "
        "AND topic = ANY(:topics)) - (SELECT count(*) FROM analytics_applied_event "
        "WHERE organization_id = :org)"
    )
    params = {"org": uuid.UUID(organization_id), "topics": list(ALL_TOPICS)}
    while True:
        async with database.transaction() as session:
            missing = await session.scalar(sql, params)
        if missing == 0:
            return
        assert time.monotonic() < deadline, f"{missing} events not applied in {WAIT_SECONDS} s"
        await asyncio.sleep(0.05)


async def read_model(database: Database, organization_id: str) -> list[tuple]:
    """Every read-model row of the organization, in key order."""
    async with database.transaction() as session:
        rows = await session.execute(
            text(
                "SELECT * FROM analytics_sales WHERE organization_id = :org "
                "ORDER BY event_id, event_date_id, ticket_type_id, day, promo_code, channel, "
                "currency"
            ),
            {"org": uuid.UUID(organization_id)},
        )
        return [tuple(row) for row in rows]
