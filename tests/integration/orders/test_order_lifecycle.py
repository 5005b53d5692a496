"""An order's life after checkout: it expires without a job when left unpaid, buyers and
organizers cancel it (units back at once), a paid one needs a refund, and organizers
list, filter and page through an event's orders."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import select, text

from builtin_plugins.orders.expiry_jobs import expire_all
from builtin_plugins.orders.lifecycle import expire_overdue
from kernel.audit import AuditEntry
from kernel.db import Database
from tests.integration.inventory.support import SOLD_OUT, check_invariants, hold, pools
from tests.integration.orders.support import (  # noqa: F401 -- fixtures
    Buyer,
    Shop,
    http_fixture,
    make_overdue,
    open_shop,
    order_holds,
    place,
    shop_url_fixture,
    take,
    token,
)
from tests.integration.ticketing.support import problem_code, staff


async def _statuses(database: Database, *order_ids: str) -> list[str]:
    async with database.transaction() as session:
        rows = await session.execute(
            text(
                "SELECT id, CAST(status AS text) AS status FROM ticket_order WHERE id = ANY(:ids)"
            ),
            {"ids": [uuid.UUID(i) for i in order_ids]},
        )
        found = {str(row.id): row.status for row in rows}
    return [found[i] for i in order_ids]


async def _available(api: httpx.AsyncClient, shop: Shop) -> int:
    answer = await api.get(f"/api/v1/events/{shop.event_id}/availability")
    assert answer.status_code == 200, answer.text
    (standard,) = [t for t in answer.json()["ticket_types"] if t["id"] == shop.standard]
    return standard["available"]


async def _transitions(api: httpx.AsyncClient, shop: Shop, order_id: str) -> list[tuple]:
    detail = await api.get(f"{shop.orders}/{order_id}", headers=shop.venue.admin)
    assert detail.status_code == 200, detail.text
    return [
        (t["from_status"], t["to_status"], t["actor"], t["reason"])
        for t in detail.json()["transitions"]
    ]


async def test_an_unpaid_order_expires_and_its_units_go_back_on_sale_without_a_job(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database, standard_capacity=2)
    buyer = await Buyer.signed_in(http)
    order_id = (await place(http, shop, buyer, standard=2))["order"]["id"]
    late = Buyer.anonymous()
    refused = await hold(http, shop.event_id, shop.standard, cart_token=late.cart_token)
    assert refused.status_code == 409 and refused.json()["type"] == SOLD_OUT

    await make_overdue(database, order_id)

    # The next buyer's hold reclaims the order's expired shares itself.
    await take(http, shop, late, shop.standard, 2)
    await check_invariants(database, shop.event_id)
    read = await http.get(f"/api/v1/orders/{order_id}", headers=buyer.headers)
    assert read.status_code == 200
    assert read.json()["status"] == "expired" and read.json()["closed_at"]
    assert (await _transitions(http, shop, order_id))[-1] == (
        "pending_payment",
        "expired",
        "system",
        "payment deadline passed",
    )
    cancel = await http.post(f"/api/v1/orders/{order_id}/cancel", headers=buyer.headers)
    assert cancel.status_code == 409 and problem_code(cancel) == "illegal-transition"


async def test_the_sweep_expires_every_overdue_order(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database)
    first, second, live = [
        (await place(http, shop, Buyer.anonymous(), standard=1))["order"]["id"] for _ in range(3)
    ]
    await make_overdue(database, first)
    await make_overdue(database, second)

    assert await expire_all(database, batch=1) >= 2  # what ``ticketing orders expire`` runs

    assert await _statuses(database, first, second, live) == [
        "expired",
        "expired",
        "pending_payment",
    ]
    assert (await _transitions(http, shop, first))[-1][1:3] == ("expired", "system")
    async with database.transaction() as session:
        assert await expire_overdue(session, event_id=shop.event_id) == 0


async def test_a_buyer_cancels_a_pending_order_and_its_units_are_back_at_once(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database, standard_capacity=3)
    buyer = await Buyer.signed_in(http)
    order_id = (await place(http, shop, buyer, standard=3))["order"]["id"]
    assert await _available(http, shop) == 0

    cancel = await http.post(
        f"/api/v1/orders/{order_id}/cancel",
        json={"reason": "changed my mind"},
        headers=buyer.headers,
    )

    assert cancel.status_code == 200, cancel.text
    assert cancel.json()["status"] == "cancelled" and cancel.json()["closed_at"]
    assert await _available(http, shop) == 3
    assert all(p["held"] == 0 for p in (await pools(database, shop.event_id)).values())
    await check_invariants(database, shop.event_id)
    assert [row["status"] for row in await order_holds(database, order_id)] == ["released"]
    assert (await _transitions(http, shop, order_id))[-1] == (
        "pending_payment",
        "cancelled",
        "buyer",
        "changed my mind",
    )
    detail = await http.get(f"{shop.orders}/{order_id}", headers=shop.venue.admin)
    assert detail.json()["transitions"][-1]["actor_user_id"] == detail.json()["buyer_user_id"]

    twice = await http.post(f"/api/v1/orders/{order_id}/cancel", headers=buyer.headers)
    assert twice.status_code == 409 and problem_code(twice) == "illegal-transition"


async def test_an_anonymous_buyer_cancels_with_the_order_token_only(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database)
    placed = await place(http, shop, Buyer.anonymous(), standard=2)
    order_id = placed["order"]["id"]

    for headers in ({}, {"X-Order-Token": "guessed"}, (await Buyer.signed_in(http)).headers):
        refused = await http.post(f"/api/v1/orders/{order_id}/cancel", headers=headers)
        assert refused.status_code == 404
    cancel = await http.post(f"/api/v1/orders/{order_id}/cancel", headers=token(placed))

    assert cancel.status_code == 200 and cancel.json()["status"] == "cancelled"
    assert (await _transitions(http, shop, order_id))[-1][1:4] == (
        "cancelled",
        "buyer",
        "cancelled by the buyer",
    )


async def test_a_paid_order_needs_a_refund_not_a_cancellation(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database)
    buyer = await Buyer.signed_in(http)
    order_id = (await place(http, shop, buyer, standard=1))["order"]["id"]
    async with database.transaction() as session:
        await session.execute(
            text("UPDATE ticket_order SET status = 'paid' WHERE id = :id"),
            {"id": uuid.UUID(order_id)},
        )

    by_buyer = await http.post(f"/api/v1/orders/{order_id}/cancel", headers=buyer.headers)
    by_organizer = await http.post(
        f"{shop.orders}/{order_id}/cancel", json={"reason": "duplicate"}, headers=shop.venue.admin
    )

    for refused in (by_buyer, by_organizer):
        assert refused.status_code == 409 and problem_code(refused) == "refund-required"
    assert await _statuses(database, order_id) == ["paid"]


async def test_organizers_list_filter_page_and_cancel_orders(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database)
    buyers = [Buyer.anonymous() for _ in range(3)]
    placed = [await place(http, shop, b, standard=1) for b in buyers]
    ids = [p["order"]["id"] for p in placed]
    organizer = await staff(http, shop.venue, "organizer")

    no_reason = await http.post(f"{shop.orders}/{ids[0]}/cancel", json={}, headers=organizer)
    assert no_reason.status_code == 422
    cancel = await http.post(
        f"{shop.orders}/{ids[0]}/cancel", json={"reason": "fraud check"}, headers=organizer
    )
    assert cancel.status_code == 200, cancel.text
    assert cancel.json()["status"] == "cancelled"
    assert cancel.json()["transitions"][-1]["actor"] == "organizer"
    assert len(cancel.json()["payments"]) == 1
    async with database.transaction() as session:
        (entry,) = await session.scalars(
            select(AuditEntry).where(
                AuditEntry.action == "order.cancelled", AuditEntry.target_id == ids[0]
            )
        )
    assert entry.details["reason"] == "fraud check"

    async def listed(**params) -> list[str]:
        answer = await http.get(shop.orders, params=params, headers=organizer)
        assert answer.status_code == 200, answer.text
        return [o["id"] for o in answer.json()["items"]]

    assert await listed() == ids[::-1]
    assert await listed(status="cancelled") == [ids[0]]
    assert await listed(status="pending_payment") == [ids[2], ids[1]]
    assert await listed(search=buyers[1].person.email) == [ids[1]]
    assert await listed(search=placed[2]["order"]["code"].lower()) == [ids[2]]

    seen, cursor = [], None
    while True:
        params = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        page = (await http.get(shop.orders, params=params, headers=organizer)).json()
        seen += [o["id"] for o in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids[::-1]

    viewer = await staff(http, shop.venue, "user")
    assert (await http.get(shop.orders, headers=viewer)).status_code == 403
    assert (await http.get(f"{shop.orders}/{ids[1]}", headers=viewer)).status_code == 403
    outsider = (await Buyer.signed_in(http)).headers
    assert (await http.get(shop.orders, headers=outsider)).status_code == 404
    other = await open_shop(http, database)
    assert (
        await http.get(f"{other.orders}/{ids[1]}", headers=other.venue.admin)
    ).status_code == 404
    foreign_event = f"{shop.venue.base}/events/{other.event_id}/orders"
    assert (await http.get(foreign_event, headers=shop.venue.admin)).status_code == 404
