"""The cart over HTTP: held lines priced as checkout will price them, what checkout would
refuse, billing details kept on the order, and an anonymous cart joining the buyer's
account on sign-in."""

from __future__ import annotations

import httpx

from kernel.db import Database
from tests.integration.orders.support import (  # noqa: F401 -- fixtures
    STANDARD_PRICE,
    VETOES,
    VIP_PRICE,
    Buyer,
    checkout,
    count_orders,
    http_fixture,
    open_shop,
    shop_url_fixture,
    take,
)


async def cart_of(http: httpx.AsyncClient, shop, buyer: Buyer, **query) -> httpx.Response:
    if buyer.cart_token is not None:
        query.setdefault("cart_token", buyer.cart_token)
    return await http.get(
        f"/api/v1/events/{shop.event_id}/cart", params=query, headers=buyer.headers
    )


async def test_the_cart_shows_each_held_line_priced_and_the_totals(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database)
    buyer = await Buyer.signed_in(http)
    first = await take(http, shop, buyer, shop.standard, 2)
    await take(http, shop, buyer, shop.vip, 1)

    answer = await cart_of(http, shop, buyer)

    assert answer.status_code == 200, answer.text
    cart = answer.json()
    assert cart["currency"] == "EUR"
    assert [line["ticket_type_id"] for line in cart["lines"]] == [shop.standard, shop.vip]
    assert cart["lines"][1]["ticket_type_name"] == "VIP"
    standard = cart["lines"][0]
    assert standard["hold_id"] == first["id"]
    assert (standard["quantity"], standard["unit_price"]) == (2, STANDARD_PRICE)
    assert (standard["net"], standard["tax"], standard["gross"]) == (
        2 * STANDARD_PRICE,
        0,
        2 * STANDARD_PRICE,
    )
    assert standard["tax_rule"]["rule"] is None  # no tax plugin rule: untaxed
    total = 2 * STANDARD_PRICE + VIP_PRICE
    assert (cart["subtotal"], cart["discount"], cart["tax"], cart["total"]) == (total, 0, 0, total)
    assert cart["problems"] == []

    # Checkout charges what the cart showed.
    placed = await checkout(http, shop, buyer)
    assert placed.status_code == 201, placed.text
    assert placed.json()["order"]["total_amount"] == cart["total"]
    # and the cart is empty afterwards
    empty = (await cart_of(http, shop, buyer)).json()
    assert (empty["lines"], empty["total"]) == ([], 0)


async def test_the_cart_lists_what_checkout_would_refuse(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database)
    buyer = Buyer.anonymous()
    await take(http, shop, buyer, shop.vip, 1)
    VETOES.reasons[str(shop.event_id)] = "VIP tickets are for members only."
    try:
        cart = (await cart_of(http, shop, buyer)).json()
    finally:
        del VETOES.reasons[str(shop.event_id)]
    assert cart["problems"] == [
        {"code": "members-only", "reason": "VIP tickets are for members only."}
    ]


async def test_a_cart_needs_an_owner_and_a_published_event(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database)
    nobody = await http.get(f"/api/v1/events/{shop.event_id}/cart")
    assert nobody.status_code == 422
    assert nobody.headers["content-type"].startswith("application/problem+json")
    unknown = await http.get(
        "/api/v1/events/00000000-0000-0000-0000-000000000000/cart",
        params={"cart_token": Buyer.anonymous().cart_token},
    )
    assert unknown.status_code == 404
    bad_country = await cart_of(http, shop, Buyer.anonymous(), country="Germany")
    assert bad_country.status_code == 422


async def test_billing_details_are_kept_on_the_order(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database)
    buyer = Buyer.anonymous()
    await take(http, shop, buyer, shop.standard, 1)
    billing = {"company": "Acme GmbH", "country": "de", "region": "Berlin", "tax_id": "DE123456789"}

    placed = await checkout(http, shop, buyer, billing=billing)

    assert placed.status_code == 201, placed.text
    assert placed.json()["order"]["billing"] == {**billing, "country": "DE"}
    refused = await checkout(http, shop, Buyer.anonymous(), billing={"tax_id": "x"})
    assert refused.status_code == 422


async def test_signing_in_merges_the_anonymous_cart_into_the_account(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database)
    guest = Buyer.anonymous()
    held = await take(http, shop, guest, shop.standard, 2)
    member = await Buyer.signed_in(http)
    await take(http, shop, member, shop.vip, 1)

    merged = await http.post(
        "/api/v1/me/cart/merge", json={"cart_token": guest.cart_token}, headers=member.headers
    )

    assert merged.status_code == 200, merged.text
    assert merged.json() == {"moved_holds": 1}
    mine = (await cart_of(http, shop, member)).json()
    assert sorted(line["hold_id"] for line in mine["lines"]) == sorted(
        [held["id"], mine["lines"][1]["hold_id"]]
    )
    assert len(mine["lines"]) == 2
    # the guest's cart is empty now, and merging again moves nothing
    assert (await cart_of(http, shop, guest)).json()["lines"] == []
    again = await http.post(
        "/api/v1/me/cart/merge", json={"cart_token": guest.cart_token}, headers=member.headers
    )
    assert again.json() == {"moved_holds": 0}
    # one checkout buys both
    placed = await checkout(http, shop, member)
    assert placed.status_code == 201, placed.text
    assert placed.json()["order"]["total_amount"] == 2 * STANDARD_PRICE + VIP_PRICE
    # merging needs a signed-in user
    anonymous = await http.post("/api/v1/me/cart/merge", json={"cart_token": guest.cart_token})
    assert anonymous.status_code == 401


async def test_a_merged_cart_over_a_types_per_order_limit_cannot_be_bought(
    http: httpx.AsyncClient, database: Database
) -> None:
    """Holds keep each cart within ``max_per_order`` (10 here); two carts merged on sign-in
    may not be, and checkout refuses what one order may not buy, writing nothing."""
    shop = await open_shop(http, database)
    guest, member = Buyer.anonymous(), await Buyer.signed_in(http)
    await take(http, shop, guest, shop.standard, 6)
    await take(http, shop, member, shop.standard, 6)
    merged = await http.post(
        "/api/v1/me/cart/merge", json={"cart_token": guest.cart_token}, headers=member.headers
    )
    assert merged.json() == {"moved_holds": 1}

    problems = (await cart_of(http, shop, member)).json()["problems"]
    assert [p["code"] for p in problems] == ["order-limit"]
    assert "between 1 and 10 per order, not 12" in problems[0]["reason"]
    refused = await checkout(http, shop, member)
    assert refused.status_code == 409, refused.text
    assert [v["code"] for v in refused.json()["vetoes"]] == ["order-limit"]
    assert await count_orders(database, shop.event_id) == 0
