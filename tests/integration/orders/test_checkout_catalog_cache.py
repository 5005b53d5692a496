"""Checkout reads the catalog from a per-process cache: a change an organizer makes is
charged, asked or refused on the very next checkout, never a stale copy."""

from __future__ import annotations

import httpx

from kernel.db import Database
from tests.integration.orders.support import (  # noqa: F401 -- fixtures
    STANDARD_PRICE,
    Buyer,
    checkout,
    http_fixture,
    open_shop,
    place,
    shop_url_fixture,
    take,
)
from tests.integration.ticketing.support import problem_code


async def test_the_next_checkout_charges_the_new_price_and_asks_the_new_question(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database)
    first = await place(http, shop, Buyer.anonymous(), standard=1)
    assert first["order"]["total_amount"] == STANDARD_PRICE  # the catalog is cached now

    changed = await http.patch(
        f"{shop.venue.event_base}/ticket-types/{shop.standard}",
        json={"price_amount": STANDARD_PRICE + 700},
        headers=shop.venue.admin,
    )
    assert changed.status_code == 200, changed.text
    second = await place(http, shop, Buyer.anonymous(), standard=2)
    assert second["order"]["total_amount"] == 2 * (STANDARD_PRICE + 700)

    asked = await http.post(
        f"{shop.venue.event_base}/questions",
        json={"label": "Company", "kind": "text", "required": True},
        headers=shop.venue.admin,
    )
    assert asked.status_code == 201, asked.text
    buyer = Buyer.anonymous()
    await take(http, shop, buyer, shop.standard, 1)
    refused = await checkout(http, shop, buyer)
    assert refused.status_code == 422 and problem_code(refused) == "answers-invalid"


async def test_a_cancelled_event_sells_nothing_more_even_with_a_cart_held(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database)
    await place(http, shop, Buyer.anonymous(), standard=1)
    buyer = Buyer.anonymous()
    await take(http, shop, buyer, shop.standard, 1)

    cancelled = await http.post(
        f"{shop.venue.event_base}/cancel", json={"reason": "storm"}, headers=shop.venue.admin
    )
    assert cancelled.status_code == 200, cancelled.text
    answer = await checkout(http, shop, buyer)
    assert answer.status_code in (404, 422), answer.text
    assert answer.json()["status"] == answer.status_code
