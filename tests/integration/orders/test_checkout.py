"""Checkout over HTTP: holds become an order awaiting payment without moving a pool
counter; who may read the order; retries; plugin vetoes; empty and expired carts; and
forty buyers checking out at once."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import select, text

from builtin_plugins.events import inventory
from builtin_plugins.orders.models import Order, OrderTransition
from kernel.db import Database
from kernel.idempotency import REPLAYED_HEADER
from tests.integration.inventory.support import check_invariants, expire, hold, pools
from tests.integration.orders.support import (  # noqa: F401 -- fixtures
    STANDARD_PRICE,
    VETOES,
    VIP_PRICE,
    Buyer,
    checkout,
    count_orders,
    http_fixture,
    open_shop,
    order_holds,
    place,
    shop_url_fixture,
    take,
    token,
)
from tests.integration.ticketing.support import problem_code
from tests.support.openapi_contract import checked_client


async def test_a_signed_in_buyer_checks_out_and_the_holds_move_onto_the_order(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database)
    buyer = await Buyer.signed_in(http)
    await take(http, shop, buyer, shop.standard, 2)
    await take(http, shop, buyer, shop.vip, 1)
    before = await pools(database, shop.event_id)

    answer = await checkout(http, shop, buyer)

    assert answer.status_code == 201, answer.text
    body = answer.json()
    order = body["order"]
    assert order["status"] == "pending_payment"
    assert order["code"] and len(order["code"]) == 10
    assert order["buyer_email"] == buyer.person.email
    assert order["buyer_name"] == buyer.person.name
    assert order["currency"] == "EUR"
    total = 2 * STANDARD_PRICE + VIP_PRICE
    assert (order["subtotal_amount"], order["total_amount"]) == (total, total)
    assert (order["tax_amount"], order["discount_amount"], order["fee_amount"]) == (0, 0, 0)
    lines = {line["ticket_type_id"]: line for line in order["lines"]}
    assert lines[shop.standard]["quantity"] == 2
    assert lines[shop.standard]["unit_price_amount"] == STANDARD_PRICE
    assert lines[shop.standard]["gross_amount"] == 2 * STANDARD_PRICE
    assert lines[shop.standard]["pricing"]["base_unit_price"] == STANDARD_PRICE
    assert lines[shop.standard]["attendees"] == [{**buyer.buyer, "answers": {}}] * 2
    assert lines[shop.vip]["net_amount"] == VIP_PRICE
    assert [line["position"] for line in order["lines"]] == [1, 2]
    assert body["access_token"]
    assert body["payment"] is not None  # the default provider takes a total above zero
    assert order["payment_status"] == body["payment"]["status"]

    # No pool counter moved: the units are still held, now by the order.
    assert await pools(database, shop.event_id) == before
    await check_invariants(database, shop.event_id)
    deadline = datetime.fromisoformat(order["expires_at"])
    assert deadline > datetime.now(UTC)
    holds = await order_holds(database, order["id"])
    assert len(holds) == 2
    for row in holds:
        assert row["owner"] == f"order:{order['id']}"
        assert row["status"] == "active"
        assert row["expires_at"] == deadline
        assert row["share_expiries"] and set(row["share_expiries"]) == {deadline}

    # The cart is empty now: a second checkout has nothing to take.
    again = await checkout(http, shop, buyer)
    assert again.status_code == 422 and problem_code(again) == "cart-empty"

    mine = await http.get(f"/api/v1/orders/{order['id']}", headers=buyer.headers)
    assert mine.status_code == 200 and mine.json()["id"] == order["id"]
    listed = await http.get("/api/v1/me/orders", headers=buyer.headers)
    assert [o["id"] for o in listed.json()["items"]] == [order["id"]]
    assert listed.json()["items"][0]["tickets"] == 3

    stranger = await Buyer.signed_in(http)
    for headers in (stranger.headers, {}, {"X-Order-Token": "not-the-token"}):
        hidden = await http.get(f"/api/v1/orders/{order['id']}", headers=headers)
        assert hidden.status_code == 404 and problem_code(hidden) == "not-found"
    with_token = await http.get(f"/api/v1/orders/{order['id']}", headers=token(body))
    assert with_token.status_code == 200

    async with database.transaction() as session:
        (placed,) = await session.scalars(
            select(OrderTransition).where(OrderTransition.order_id == uuid.UUID(order["id"]))
        )
        stored = await session.get(Order, uuid.UUID(order["id"]))
    assert (placed.from_status, placed.to_status.value, placed.actor) == (
        None,
        "pending_payment",
        "buyer",
    )
    assert stored is not None and stored.hold_owner.startswith("user:")


async def test_an_anonymous_buyer_checks_out_with_the_cart_token_and_reads_with_the_order_token(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database)
    buyer = Buyer.anonymous()
    held = await take(http, shop, buyer, shop.standard, 2)

    nameless = await checkout(http, shop, buyer, with_buyer=False)
    assert nameless.status_code == 422 and problem_code(nameless) == "buyer-required"
    no_cart = await checkout(http, shop, Buyer.anonymous(), cart_token=None)
    assert no_cart.status_code == 422
    friend = {"name": "Friend Of Buyer", "email": "friend@example.com"}
    wrong_count = await checkout(
        http, shop, buyer, attendees=[{"hold_id": held["id"], "attendees": [friend]}]
    )
    assert wrong_count.status_code == 422 and problem_code(wrong_count) == "attendees-mismatch"

    answer = await checkout(
        http,
        shop,
        buyer,
        attendees=[{"hold_id": held["id"], "attendees": [buyer.buyer, friend]}],
    )

    assert answer.status_code == 201, answer.text
    placed = answer.json()
    order = placed["order"]
    assert order["buyer_email"] == buyer.person.email
    assert order["total_amount"] == 2 * STANDARD_PRICE
    assert order["lines"][0]["attendees"] == [
        {**buyer.buyer, "answers": {}},
        {**friend, "answers": {}},
    ]
    (row,) = await order_holds(database, order["id"])
    assert row["owner"] == f"order:{order['id']}"

    read = await http.get(f"/api/v1/orders/{order['id']}", headers=token(placed))
    assert read.status_code == 200
    assert read.json()["status"] == "pending_payment"
    assert "access_token" not in read.json()
    other = await place(http, shop, Buyer.anonymous(), standard=1)
    foreign = await http.get(f"/api/v1/orders/{order['id']}", headers=token(other))
    assert foreign.status_code == 404
    signed_in = await Buyer.signed_in(http)
    assert (
        await http.get(f"/api/v1/orders/{order['id']}", headers=signed_in.headers)
    ).status_code == 404


async def test_a_retried_checkout_returns_the_first_order(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database)
    buyer = await Buyer.signed_in(http)
    await take(http, shop, buyer, shop.standard, 1)
    key = f"checkout-{uuid.uuid4()}"

    first = await checkout(http, shop, buyer, key=key)
    second = await checkout(http, shop, buyer, key=key)

    assert first.status_code == second.status_code == 201, second.text
    assert second.headers.get(REPLAYED_HEADER) == "true"
    assert second.json() == first.json()
    assert await count_orders(database, shop.event_id) == 1

    changed = await checkout(http, shop, buyer, key=key, payment_provider="manual")
    assert changed.status_code == 422 and problem_code(changed) == "idempotency-key-reused"
    assert await count_orders(database, shop.event_id) == 1


async def test_a_plugin_veto_refuses_the_checkout_and_writes_nothing(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database)
    buyer = await Buyer.signed_in(http)
    held = await take(http, shop, buyer, shop.vip, 2)
    VETOES.reasons[str(shop.event_id)] = "VIP tickets are for members only."
    try:
        answer = await checkout(http, shop, buyer)
    finally:
        del VETOES.reasons[str(shop.event_id)]

    assert answer.status_code == 409 and problem_code(answer) == "checkout-vetoed"
    assert answer.json()["vetoes"] == [
        {"code": "members-only", "reason": "VIP tickets are for members only."}
    ]
    assert "members only" in answer.json()["detail"]
    (cart,) = [c for c in VETOES.carts if c.event_id == shop.event_id]
    assert cart.total.amount == 2 * VIP_PRICE and cart.lines[0].quantity == 2
    assert await count_orders(database, shop.event_id) == 0
    async with database.transaction() as session:
        row = (
            await session.execute(
                text("SELECT owner, expires_at FROM inventory_hold WHERE id = :id"),
                {"id": uuid.UUID(held["id"])},
            )
        ).one()
    assert row.owner.startswith("user:")
    assert row.expires_at == datetime.fromisoformat(held["expires_at"])

    # Without the veto the same cart goes through.
    assert (await checkout(http, shop, buyer)).status_code == 201


async def test_an_empty_cart_is_refused_and_an_expired_hold_is_not_taken(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database)
    buyer = await Buyer.signed_in(http)
    empty = await checkout(http, shop, buyer)
    assert empty.status_code == 422 and problem_code(empty) == "cart-empty"

    lapsed = await take(http, shop, buyer, shop.vip, 1)
    await expire(database, [lapsed["id"]])
    only_expired = await checkout(http, shop, buyer)
    assert only_expired.status_code == 422 and problem_code(only_expired) == "cart-empty"

    await take(http, shop, buyer, shop.standard, 1)
    answer = await checkout(http, shop, buyer)
    assert answer.status_code == 201, answer.text
    (line,) = answer.json()["order"]["lines"]
    assert line["ticket_type_id"] == shop.standard
    assert answer.json()["order"]["total_amount"] == STANDARD_PRICE

    missing = await http.post(
        f"/api/v1/events/{uuid.uuid4()}/checkout", json={}, headers=buyer.headers
    )
    assert missing.status_code == 404


async def test_a_hold_that_lost_a_share_to_a_reclaimer_fails_the_move(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database)
    buyer = Buyer.anonymous()
    held = await take(http, shop, buyer, shop.standard, 1)
    hold_id = uuid.UUID(held["id"])
    # As if a reclaimer had deleted the share (and given its unit back) a moment ago.
    async with database.transaction() as session:
        await session.execute(
            text(
                "WITH gone AS (DELETE FROM inventory_pool_hold WHERE hold_id = :id "
                "RETURNING pool_id, quantity) UPDATE inventory_pool p "
                "SET held = p.held - gone.quantity FROM gone WHERE p.id = gone.pool_id"
            ),
            {"id": hold_id},
        )

    with pytest.raises(inventory.HoldExpired) as refused:
        async with database.transaction() as session:
            await inventory.attach_holds(
                session,
                event_id=shop.event_id,
                owner=inventory.owner_for(cart_token=buyer.cart_token),
                new_owner=f"order:{uuid.uuid4()}",
                expires_in_seconds=600,
            )
    assert refused.value.extensions["hold_id"] == str(hold_id)

    answer = await checkout(http, shop, buyer)
    assert answer.status_code == 409 and problem_code(answer) == "hold-expired"
    assert await count_orders(database, shop.event_id) == 0


async def test_forty_buyers_race_for_twenty_seats_and_twenty_orders_are_placed(
    http: httpx.AsyncClient, shop_url: str, database: Database
) -> None:
    shop = await open_shop(http, database, standard_capacity=20)
    buyers = [Buyer.anonymous() for _ in range(40)]
    limits = httpx.Limits(max_connections=40, max_keepalive_connections=40)
    async with checked_client(shop_url, timeout=120, limits=limits) as racers:
        holds = await asyncio.gather(
            *(hold(racers, shop.event_id, shop.standard, cart_token=b.cart_token) for b in buyers)
        )
        assert sorted(h.status_code for h in holds) == [201] * 20 + [409] * 20
        checkouts = await asyncio.gather(*(checkout(racers, shop, b) for b in buyers))

    placed = [c for c in checkouts if c.status_code == 201]
    refused = [c for c in checkouts if c.status_code != 201]
    assert len(placed) == 20, [c.text for c in refused if c.status_code != 422][:3]
    assert all(problem_code(c) == "cart-empty" for c in refused)
    assert len({c.json()["order"]["id"] for c in placed}) == 20
    assert await count_orders(database, shop.event_id) == 20
    counted = await pools(database, shop.event_id)
    (standard,) = [p for name, p in counted.items() if name != "VIP"]
    assert (standard["held"], standard["sold"]) == (20, 0)
    await check_invariants(database, shop.event_id)
