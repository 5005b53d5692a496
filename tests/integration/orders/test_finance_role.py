"""The finance role as a back office meets it: orders (view, mark paid, cancel), refunds,
the ledger and reports, and nothing of running events or the door."""

from __future__ import annotations

import uuid

import httpx

from kernel.db import Database
from tests.integration.orders.refund_support import (  # noqa: F401 -- fixtures
    refund,
    refunds_url,
    shop_url_fixture,
)
from tests.integration.orders.support import (  # noqa: F401 -- fixtures
    Buyer,
    http_fixture,
    open_shop,
    place,
)
from tests.integration.ticketing.checkin_support import make_list
from tests.integration.ticketing.support import problem_code, staff


async def test_finance_handles_orders_refunds_and_the_ledger(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database)
    finance = await staff(http, shop.venue, "finance")
    session = (await http.get("/api/auth/session", headers=finance)).json()
    assert session["permissions"][shop.venue.organization_id] == [
        "orders:manage",
        "orders:refund",
        "orders:view",
        "org:view",
        "reports:view",
    ]
    to_pay = (await place(http, shop, await Buyer.signed_in(http), standard=2))["order"]["id"]
    to_cancel = (await place(http, shop, await Buyer.signed_in(http), standard=1))["order"]["id"]

    listed = await http.get(shop.orders, headers=finance)
    assert listed.status_code == 200 and to_pay in listed.text and to_cancel in listed.text
    paid = await http.post(
        f"{shop.orders}/{to_pay}/mark-paid", json={"reason": "transfer received"}, headers=finance
    )
    assert paid.status_code == 200, paid.text
    cancelled = await http.post(
        f"{shop.orders}/{to_cancel}/cancel", json={"reason": "duplicate"}, headers=finance
    )
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"

    refunded = await refund(http, shop, to_pay, headers=finance, reason="asked nicely")
    assert refunded.status_code == 201, refunded.text
    assert refunded.json()["status"] == "succeeded"
    assert (await http.get(refunds_url(shop, to_pay), headers=finance)).status_code == 200
    base = shop.venue.base
    ledger = await http.get(f"{base}/ledger", params={"order_id": to_pay}, headers=finance)
    assert ledger.status_code == 200 and "refund" in ledger.text
    assert (await http.get(f"{base}/ledger/balances", headers=finance)).status_code == 200
    order_ledger = await http.get(f"{base}/orders/{to_pay}/ledger", headers=finance)
    assert order_ledger.status_code == 200


async def test_finance_cannot_run_events_or_the_door(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database)
    finance = await staff(http, shop.venue, "finance")
    door = await make_list(http, shop.venue)
    base, event = shop.venue.base, shop.venue.event_base
    lists = f"{event}/checkin-lists"
    attempts = [
        ("POST", f"{base}/events", {"title": "Side gig"}, "events:create"),
        ("PATCH", event, {"title": "Renamed"}, "events:edit"),
        ("POST", f"{event}/publish", {}, "events:publish"),
        ("POST", f"{event}/cancel", {"reason": "no"}, "events:publish"),
        ("POST", lists, {"name": "Back door"}, "tickets:manage"),
        ("POST", f"{lists}/{door['id']}/scans", {"code": "ABCD"}, "tickets:checkin"),
        ("GET", f"{lists}/{door['id']}/export", None, "tickets:checkin"),
        ("GET", f"{lists}/live", None, "tickets:checkin"),
        ("POST", f"{event}/tickets", {"holders": [{"name": "Me"}]}, "tickets:manage"),
        ("GET", f"{base}/promo-codes", None, "promotions:manage"),
        ("GET", f"{base}/payments/stripe", None, "payments:manage"),
        ("POST", f"{base}/invitations", {"email": "a@b.example", "role": "admin"}, "org:manage"),
        ("PATCH", f"{base}/members/{uuid.uuid4()}", {"role": "admin"}, "org:manage"),
    ]
    for method, path, body, needed in attempts:
        answer = await http.request(method, path, json=body, headers=finance)
        assert answer.status_code == 403, (method, path, answer.text)
        assert problem_code(answer) == "forbidden" and answer.json()["required"] == [needed]
