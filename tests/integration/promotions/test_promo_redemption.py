"""Uses of a promo code over HTTP: counted in tickets, limited in all and per buyer, given
back when an order is cancelled or expires (once), and never exceeded however many
buyers check out at the same instant."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import httpx
from sqlalchemy import text

from builtin_plugins.promotions.redemption import release
from kernel.contracts import DomainEvent
from kernel.db import Database
from kernel.plugin_context import PluginContext
from tests.integration.inventory.support import hold
from tests.integration.orders.support import (
    Buyer,
    checkout,
    count_orders,
    make_overdue,
    open_shop,
    take,
    token,
)
from tests.integration.promotions.support import (  # noqa: F401 -- fixtures
    buy,
    http_fixture,
    make_code,
    promo_url_fixture,
    read_code,
    redemptions,
    wait_for,
)
from tests.integration.ticketing.support import problem_code
from tests.support.openapi_contract import checked_client


def refused_for(answer: httpx.Response, code: str) -> bool:
    """409 ``code`` from redemption, or a veto carrying it from validation."""
    if answer.status_code != 409:
        return False
    if problem_code(answer) == code:
        return True
    return problem_code(answer) == "checkout-vetoed" and [
        veto["code"] for veto in answer.json()["vetoes"]
    ] == [code]


def anonymous_as(person_email: str) -> Buyer:
    """A new anonymous cart of someone who gives ``person_email`` at checkout."""
    buyer = Buyer.anonymous()
    buyer.person.email = person_email
    return buyer


async def test_uses_are_tickets_and_a_code_runs_out(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database)
    code = await make_code(http, shop, max_uses=3)

    first = await buy(http, shop, Buyer.anonymous(), code["code"], standard=2)
    assert first.status_code == 201, first.text
    assert (await read_code(http, shop, code))["remaining"] == 1

    too_many = await buy(http, shop, Buyer.anonymous(), code["code"], standard=2)
    assert refused_for(too_many, "promo-code-exhausted"), too_many.text
    assert "1 use(s) left" in too_many.json()["detail"]

    last = await buy(http, shop, Buyer.anonymous(), code["code"], vip=1)
    assert last.status_code == 201, last.text
    state = await read_code(http, shop, code)
    assert (state["used"], state["remaining"]) == (3, 0)
    assert await count_orders(database, shop.event_id) == 2


async def test_a_buyer_uses_a_code_only_as_often_as_allowed(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database)
    code = await make_code(http, shop, max_uses_per_buyer=2)

    signed_in = await Buyer.signed_in(http)
    assert (await buy(http, shop, signed_in, code["code"], standard=2)).status_code == 201
    again = await buy(http, shop, signed_in, code["code"], vip=1)
    assert refused_for(again, "promo-code-limit-reached"), again.text
    assert "used it for 2" in again.json()["detail"]
    # without the code the same cart goes through at full price
    full_price = await checkout(http, shop, signed_in)
    assert full_price.status_code == 201 and full_price.json()["order"]["discount_amount"] == 0

    # Anonymous buyers are told apart by email, whatever its case.
    email = f"Ann-{uuid.uuid4().hex[:8]}@Example.com"
    once = await buy(http, shop, anonymous_as(email), code["code"], standard=1)
    assert once.status_code == 201, once.text
    twice = await buy(http, shop, anonymous_as(email.upper()), code["code"], standard=2)
    assert refused_for(twice, "promo-code-limit-reached"), twice.text
    fits = await buy(http, shop, anonymous_as(email.lower()), code["code"], standard=1)
    assert fits.status_code == 201, fits.text

    by_buyer: dict[str, int] = {}
    for row in await redemptions(database, code["id"]):
        by_buyer[row["buyer_key"]] = by_buyer.get(row["buyer_key"], 0) + row["quantity"]
    assert sorted(by_buyer.values()) == [2, 2]
    assert f"email:{email.lower()}" in by_buyer


async def test_a_cancelled_order_gives_its_uses_back_once(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database)
    code = await make_code(http, shop, max_uses=2)
    placed = await buy(http, shop, Buyer.anonymous(), code["code"], standard=2)
    assert placed.status_code == 201, placed.text
    waiting = await buy(http, shop, Buyer.anonymous(), code["code"], standard=1)
    assert refused_for(waiting, "promo-code-exhausted"), waiting.text

    order_id = placed.json()["order"]["id"]
    cancelled = await http.post(f"/api/v1/orders/{order_id}/cancel", headers=token(placed.json()))
    assert cancelled.status_code == 200, cancelled.text

    async def given_back() -> bool:
        return (await read_code(http, shop, code))["used"] == 0

    await wait_for(given_back, "the cancelled order's uses to come back")
    (redemption,) = await redemptions(database, code["id"])
    assert redemption["status"] == "released"

    # The freed uses sell again; a second delivery of the same event changes nothing.
    again = await buy(http, shop, Buyer.anonymous(), code["code"], standard=2)
    assert again.status_code == 201, again.text
    event = DomainEvent(
        id=uuid.uuid4(),
        topic="order.cancelled",
        organization_id=uuid.UUID(shop.venue.organization_id),
        payload={"order_id": order_id},
        occurred_at=datetime.now(UTC),
    )
    async with database.transaction() as session:
        await release(event, session, PluginContext(None, event.organization_id, "promotions"))
    state = await read_code(http, shop, code)
    assert (state["used"], state["remaining"]) == (2, 0)
    assert [r["status"] for r in await redemptions(database, code["id"])] == [
        "released",
        "active",
    ]


async def test_an_expired_order_gives_its_uses_back(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database)
    code = await make_code(http, shop, max_uses=1)
    placed = await buy(http, shop, Buyer.anonymous(), code["code"], vip=1)
    assert placed.status_code == 201, placed.text
    order_id = placed.json()["order"]["id"]

    await make_overdue(database, order_id)
    read = await http.get(f"/api/v1/orders/{order_id}", headers=token(placed.json()))
    assert read.json()["status"] == "expired"

    async def given_back() -> bool:
        return (await read_code(http, shop, code))["used"] == 0

    await wait_for(given_back, "the expired order's use to come back")
    assert [r["status"] for r in await redemptions(database, code["id"])] == ["released"]


async def test_twenty_five_buyers_race_for_ten_uses_and_exactly_ten_get_them(
    http: httpx.AsyncClient, promo_url: str, database: Database
) -> None:
    shop = await open_shop(http, database)
    code = await make_code(http, shop, max_uses=10)
    buyers = [Buyer.anonymous() for _ in range(25)]
    limits = httpx.Limits(max_connections=25, max_keepalive_connections=25)
    async with checked_client(promo_url, timeout=120, limits=limits) as racers:
        holds = await asyncio.gather(
            *(hold(racers, shop.event_id, shop.standard, cart_token=b.cart_token) for b in buyers)
        )
        assert all(h.status_code == 201 for h in holds)
        checkouts = await asyncio.gather(
            *(checkout(racers, shop, b, promo_code=code["code"]) for b in buyers)
        )

    placed = [c for c in checkouts if c.status_code == 201]
    refused = [c for c in checkouts if c.status_code != 201]
    assert len(placed) == 10, [c.text for c in refused][:3]
    assert all(refused_for(c, "promo-code-exhausted") for c in refused), [
        c.text for c in refused if not refused_for(c, "promo-code-exhausted")
    ][:3]
    assert all(c.json()["order"]["discount_amount"] == 500 for c in placed)
    state = await read_code(http, shop, code)
    assert (state["used"], state["remaining"]) == (10, 0)
    rows = await redemptions(database, code["id"])
    assert sum(r["quantity"] for r in rows) == 10
    assert {str(r["order_id"]) for r in rows} == {c.json()["order"]["id"] for c in placed}
    assert await count_orders(database, shop.event_id) == 10


async def test_one_buyer_racing_from_two_carts_never_passes_the_per_buyer_limit(
    http: httpx.AsyncClient, promo_url: str, database: Database
) -> None:
    shop = await open_shop(http, database)
    code = await make_code(http, shop, max_uses_per_buyer=3)
    rounds = 5
    limits = httpx.Limits(max_connections=10, max_keepalive_connections=10)
    async with checked_client(promo_url, timeout=120, limits=limits) as racers:
        for _ in range(rounds):
            email = f"racer-{uuid.uuid4().hex[:8]}@example.com"
            carts = [anonymous_as(email), anonymous_as(email)]
            for cart in carts:
                await take(racers, shop, cart, shop.standard, 2)
            answers = await asyncio.gather(
                *(checkout(racers, shop, cart, promo_code=code["code"]) for cart in carts)
            )
            statuses = sorted(answer.status_code for answer in answers)
            assert statuses == [201, 409], [a.text for a in answers]
            (loser,) = [a for a in answers if a.status_code == 409]
            assert refused_for(loser, "promo-code-limit-reached"), loser.text

    async with database.transaction() as session:
        per_buyer = (
            await session.execute(
                text(
                    "SELECT buyer_key, sum(quantity) AS tickets FROM promo_redemption "
                    "WHERE promo_code_id = :id AND status = 'active' GROUP BY buyer_key"
                ),
                {"id": uuid.UUID(code["id"])},
            )
        ).all()
    assert len(per_buyer) == rounds
    assert all(row.tickets == 2 for row in per_buyer)
    assert (await read_code(http, shop, code))["used"] == 2 * rounds
