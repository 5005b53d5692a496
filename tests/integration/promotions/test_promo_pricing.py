"""What a buyer sees of a promo code over HTTP: the discount in the public quote, the
cart and the placed order (lines and totals); codes limited to ticket types, to a
validity window, to their event and organization; fixed amounts; and promo-only ticket
types that only a code reveals, holds and sells."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from kernel.db import Database
from tests.integration.inventory.support import hold, make_event, make_type
from tests.integration.orders.support import (
    STANDARD_PRICE,
    VIP_PRICE,
    Buyer,
    Shop,
    checkout,
    count_orders,
    open_shop,
    take,
)
from tests.integration.promotions.support import (  # noqa: F401 -- fixtures
    buy,
    codes_url,
    http_fixture,
    make_code,
    promo_url_fixture,
    read_code,
    redemptions,
)
from tests.integration.ticketing.support import problem_code

PRESALE_PRICE = 1800


async def quote(
    http: httpx.AsyncClient, shop: Shop, ticket_type_id: str, quantity: int = 1, **params
) -> httpx.Response:
    return await http.get(
        f"/api/v1/events/{shop.event_id}/ticket-types/{ticket_type_id}/quote",
        params={"quantity": quantity, **params},
    )


def promo_adjustments(body: dict) -> list[tuple[str, int]]:
    return [(a["label"], a["amount"]) for a in body["adjustments"] if a["code"] == "promo-code"]


def vetoed_with(answer: httpx.Response, code: str) -> bool:
    return (
        answer.status_code == 409
        and problem_code(answer) == "checkout-vetoed"
        and [veto["code"] for veto in answer.json()["vetoes"]] == [code]
    )


async def test_the_quote_shows_the_discount_of_a_code_typed_in_any_case(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database)
    code = await make_code(http, shop, percent_off=2000)

    plain = await quote(http, shop, shop.standard, 2)
    assert plain.status_code == 200 and promo_adjustments(plain.json()) == []
    assert plain.json()["problems"] == [] and plain.json()["promo_code"] is None
    unknown = await quote(http, shop, shop.standard, 2, promo_code="not-a-code")
    assert unknown.status_code == 200 and unknown.json()["total"] == 2 * STANDARD_PRICE
    # no discount, and the quote says why, as the cart and checkout would
    assert [p["code"] for p in unknown.json()["problems"]] == ["promo-code-invalid"]
    assert unknown.json()["problems"][0]["reason"]
    assert unknown.json()["promo_code"] == "NOT-A-CODE"

    answer = await quote(http, shop, shop.standard, 2, promo_code=f" {code['code'].lower()} ")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert promo_adjustments(body) == [(f"Promo code {code['code']}: -20%", -500)]
    assert (body["base_unit_price"], body["unit_price"], body["total"]) == (2500, 2000, 4000)
    assert body["problems"] == [] and body["promo_code"] == code["code"]  # as stored
    # a quote is not a use
    assert (await read_code(http, shop, code))["used"] == 0


async def test_checkout_with_a_code_discounts_its_ticket_types_in_the_lines_and_total(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database)
    code = await make_code(http, shop, percent_off=2000, ticket_type_ids=[shop.standard])
    buyer = Buyer.anonymous()
    await take(http, shop, buyer, shop.standard, 2)
    await take(http, shop, buyer, shop.vip, 1)

    typed = f" {code['code'].lower()}"
    cart = await http.get(
        f"/api/v1/events/{shop.event_id}/cart",
        params={"cart_token": buyer.cart_token, "promo_code": typed},
    )
    assert cart.status_code == 200, cart.text
    assert (cart.json()["discount"], cart.json()["total"]) == (1000, 2 * 2000 + VIP_PRICE)
    assert cart.json()["problems"] == []
    assert cart.json()["promo_code"] == code["code"]  # echoed as stored, not as typed

    answer = await checkout(http, shop, buyer, promo_code=typed)

    assert answer.status_code == 201, answer.text
    order = answer.json()["order"]
    assert order["promo_code"] == code["code"]
    lines = {line["ticket_type_id"]: line for line in order["lines"]}
    standard, vip = lines[shop.standard], lines[shop.vip]
    assert (standard["unit_price_amount"], standard["discount_amount"]) == (2000, 1000)
    assert standard["gross_amount"] == 4000
    assert [a["code"] for a in standard["pricing"]["adjustments"]] == ["promo-code"]
    assert (vip["unit_price_amount"], vip["discount_amount"]) == (VIP_PRICE, 0)
    assert order["subtotal_amount"] == 2 * STANDARD_PRICE + VIP_PRICE
    assert order["discount_amount"] == 1000
    assert order["total_amount"] == 2 * 2000 + VIP_PRICE
    assert answer.json()["payment"]["amount"] == order["total_amount"]

    # Only the two discounted tickets used the code.
    assert (await read_code(http, shop, code))["used"] == 2
    (redemption,) = await redemptions(database, code["id"])
    assert str(redemption["order_id"]) == order["id"]
    assert (redemption["quantity"], redemption["status"]) == (2, "active")
    assert redemption["buyer_key"] == f"email:{buyer.person.email.lower()}"


async def test_a_fixed_amount_comes_off_each_ticket_down_to_zero(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database)
    fixed = await make_code(http, shop, amount_off=3000, currency="EUR")
    vip = await quote(http, shop, shop.vip, 1, promo_code=fixed["code"])
    assert promo_adjustments(vip.json()) == [(f"Promo code {fixed['code']}: -30.00 EUR", -3000)]
    assert vip.json()["unit_price"] == VIP_PRICE - 3000

    answer = await buy(http, shop, Buyer.anonymous(), fixed["code"], standard=2)
    assert answer.status_code == 201, answer.text
    order = answer.json()["order"]
    assert (order["lines"][0]["unit_price_amount"], order["total_amount"]) == (0, 0)
    assert order["discount_amount"] == 2 * STANDARD_PRICE
    assert (await read_code(http, shop, fixed))["used"] == 2

    # A code for every event of the organization, in another currency: it cannot discount
    # a euro, so it does not apply here (and is not used up).
    dollars = await make_code(http, shop, event_id=None, amount_off=500, currency="USD")
    assert (
        promo_adjustments((await quote(http, shop, shop.vip, promo_code=dollars["code"])).json())
        == []
    )
    refused = await buy(http, shop, Buyer.anonymous(), dollars["code"], vip=1)
    assert vetoed_with(refused, "promo-code-not-applicable"), refused.text
    assert (await read_code(http, shop, dollars))["used"] == 0


async def test_a_code_for_some_ticket_types_leaves_the_others_alone(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database)
    vip_only = await make_code(http, shop, ticket_type_ids=[shop.vip])
    standard = await quote(http, shop, shop.standard, promo_code=vip_only["code"])
    assert promo_adjustments(standard.json()) == []
    assert promo_adjustments(
        (await quote(http, shop, shop.vip, promo_code=vip_only["code"])).json()
    )

    refused = await buy(http, shop, Buyer.anonymous(), vip_only["code"], standard=1)
    assert vetoed_with(refused, "promo-code-not-applicable"), refused.text
    assert await count_orders(database, shop.event_id) == 0
    assert (await read_code(http, shop, vip_only))["used"] == 0


async def test_a_code_works_only_in_its_window_its_event_and_while_active(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database)
    now = datetime.now(UTC)
    later = await make_code(http, shop, valid_from=(now + timedelta(days=1)).isoformat())
    over = await make_code(
        http,
        shop,
        valid_from=(now - timedelta(days=2)).isoformat(),
        valid_until=(now - timedelta(days=1)).isoformat(),
    )
    switched_off = await make_code(http, shop, active=False)
    other_event, _ = await make_event(database, shop.venue.organization_id)
    elsewhere = await make_code(http, shop, event_id=str(other_event))
    current = await make_code(
        http,
        shop,
        valid_from=(now - timedelta(hours=1)).isoformat(),
        valid_until=(now + timedelta(hours=1)).isoformat(),
    )

    for code in (later, over, switched_off, elsewhere):
        quoted = await quote(http, shop, shop.standard, promo_code=code["code"])
        assert promo_adjustments(quoted.json()) == [], code
        refused = await buy(http, shop, Buyer.anonymous(), code["code"], standard=1)
        assert vetoed_with(refused, "promo-code-invalid"), refused.text
        assert "not valid" in refused.json()["detail"]
    assert await count_orders(database, shop.event_id) == 0

    assert promo_adjustments(
        (await quote(http, shop, shop.standard, promo_code=current["code"])).json()
    )
    placed = await buy(http, shop, Buyer.anonymous(), current["code"], standard=1)
    assert placed.status_code == 201, placed.text
    assert placed.json()["order"]["discount_amount"] == 500


async def test_a_promo_only_type_is_revealed_held_and_sold_only_with_its_code(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database)
    presale = await make_type(
        http,
        shop.venue.organization_id,
        shop.venue.admin,
        shop.event_id,
        name="Presale",
        price_amount=PRESALE_PRICE,
        capacity=10,
        visibility="promo",
    )
    code = await make_code(
        http,
        shop,
        percent_off=1000,
        ticket_type_ids=[shop.vip],
        unlocks_ticket_type_ids=[presale["id"]],
    )
    other = await make_code(http, shop)
    availability = f"/api/v1/events/{shop.event_id}/availability"

    async def listed(**params) -> set[str]:
        answer = await http.get(availability, params=params)
        assert answer.status_code == 200, answer.text
        return {t["id"] for t in answer.json()["ticket_types"]}

    assert await listed() == {shop.standard, shop.vip}
    assert await listed(promo_code=other["code"]) == {shop.standard, shop.vip}
    assert await listed(promo_code=code["code"].lower()) == {shop.standard, shop.vip, presale["id"]}

    hidden = await quote(http, shop, presale["id"])
    assert hidden.status_code == 404
    revealed = await quote(http, shop, presale["id"], 2, promo_code=code["code"])
    assert revealed.status_code == 200, revealed.text
    assert revealed.json()["total"] == 2 * (PRESALE_PRICE - 180)  # unlocked types are discounted

    buyer = Buyer.anonymous()
    for refused in (
        await hold(http, shop.event_id, presale["id"], cart_token=buyer.cart_token),
        await http.post(
            f"/api/v1/events/{shop.event_id}/holds",
            json={
                "ticket_type_id": presale["id"],
                "quantity": 1,
                "cart_token": buyer.cart_token,
                "promo_code": other["code"],
            },
        ),
    ):
        assert refused.status_code == 404, refused.text
    held = await http.post(
        f"/api/v1/events/{shop.event_id}/holds",
        json={
            "ticket_type_id": presale["id"],
            "quantity": 2,
            "cart_token": buyer.cart_token,
            "promo_code": code["code"],
        },
    )
    assert held.status_code == 201, held.text

    # Held with the code, bought without it: refused, so the code's limits hold.
    without = await checkout(http, shop, buyer)
    assert without.status_code == 409 and problem_code(without) == "promo-code-required"
    assert without.json()["ticket_type_ids"] == [presale["id"]]
    wrong = await checkout(http, shop, buyer, promo_code=other["code"])
    assert wrong.status_code == 409 and problem_code(wrong) == "promo-code-required"
    assert await count_orders(database, shop.event_id) == 0

    placed = await checkout(http, shop, buyer, promo_code=code["code"])
    assert placed.status_code == 201, placed.text
    (line,) = placed.json()["order"]["lines"]
    assert (line["ticket_type_id"], line["unit_price_amount"]) == (presale["id"], 1620)
    assert (await read_code(http, shop, code))["used"] == 2


async def test_an_unknown_code_refuses_the_checkout_and_writes_nothing(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database)
    buyer = Buyer.anonymous()
    await take(http, shop, buyer, shop.standard, 1)
    cart = await http.get(
        f"/api/v1/events/{shop.event_id}/cart",
        params={"cart_token": buyer.cart_token, "promo_code": "NO-SUCH-CODE"},
    )
    assert [p["code"] for p in cart.json()["problems"]] == ["promo-code-invalid"]

    refused = await checkout(http, shop, buyer, promo_code="NO-SUCH-CODE")
    assert vetoed_with(refused, "promo-code-invalid"), refused.text
    assert await count_orders(database, shop.event_id) == 0
    placed = await checkout(http, shop, buyer)  # the cart is intact
    assert placed.status_code == 201, placed.text
    assert placed.json()["order"]["promo_code"] is None
