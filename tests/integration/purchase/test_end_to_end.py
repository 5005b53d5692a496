"""A purchase as a new buyer makes it, through the HTTP API only, with Stripe played by
the local stand-in: an organizer sets up an event, a promo code and a tax rule; a
buyer browses, fills a cart anonymously, signs in (the cart follows), sees the discount
and the tax, pays through a PaymentIntent settled by a signed webhook, receives tickets,
and gets one ticket refunded. Stripe's duplicate and out-of-order deliveries change
nothing afterwards, and the ledger balances to the cent throughout."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx

from tests.integration.conftest import Person, new_organization, signed_in_user
from tests.integration.inventory.support import cart as new_cart_token
from tests.integration.payments_stripe.conftest import WEBHOOK_SECRET
from tests.integration.ticketing.support import problem_code
from tests.support.sales import published_event
from tests.support.stripe_server import StripeStandIn, charge, signed_event

PRICE = 5000  # EUR 50.00, tax included
WEBHOOK = "/api/v1/payments/stripe/webhook"


def settled(intent: dict) -> dict:
    return {**intent, "status": "succeeded", "amount_received": intent["amount"]}


async def organizer_sets_up_a_sale(http: httpx.AsyncClient) -> dict:
    """An organization, a published event in Berlin, a promo code, a 19% VAT rule."""
    organization_id, admin = await new_organization(http)
    base = f"/api/v1/organizations/{organization_id}"
    event, ticket_type = await published_event(
        http,
        organization_id,
        admin,
        title="Harbour Lights",
        days_ahead=40,
        price=PRICE,
        capacity=100,
    )
    event_id = event["id"]
    promo = await http.post(
        f"{base}/promo-codes",
        json={"code": "LAUNCH20", "event_id": event_id, "percent_off": 2000, "max_uses": 10},
        headers=admin,
    )
    assert promo.status_code == 201, promo.text
    vat = await http.post(
        f"{base}/tax-rules",
        json={
            "name": "VAT 19%",
            "rate": "19",
            "country": "DE",
            "basis": "event",
            "price_includes_tax": True,
            "b2b": "reverse_charge",
        },
        headers=admin,
    )
    assert vat.status_code == 201, vat.text
    return {
        "organization_id": organization_id,
        "admin": admin,
        "base": base,
        "event_id": event_id,
        "event_base": f"{base}/events/{event_id}",
        "ticket_type_id": ticket_type["id"],
        "title": event["title"],
    }


async def webhook(http: httpx.AsyncClient, kind: str, subject: dict, **extra) -> dict:
    payload, headers = signed_event(kind, subject, WEBHOOK_SECRET, **extra)
    answer = await http.post(WEBHOOK, content=payload, headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def snapshot(http: httpx.AsyncClient, sale: dict, order_id: str, buyer: dict) -> dict:
    """Everything a duplicate webhook must not change."""
    order = (
        await http.get(f"{sale['event_base']}/orders/{order_id}", headers=sale["admin"])
    ).json()
    tickets = (await http.get("/api/v1/me/tickets", headers=buyer)).json()
    ledger = (
        await http.get(f"{sale['base']}/orders/{order_id}/ledger", headers=sale["admin"])
    ).json()
    return {
        "status": order["status"],
        "refunded": order["refunded_amount"],
        "tickets": sorted((t["id"], t["status"]) for t in tickets["items"]),
        "ledger": sorted(t["id"] for t in ledger["items"]),
    }


async def assert_ledger_balances(http: httpx.AsyncClient, sale: dict, *, provider: int) -> None:
    answer = await http.get(f"{sale['base']}/ledger/balances", headers=sale["admin"])
    assert answer.status_code == 200, answer.text
    (euros,) = [row for row in answer.json()["balances"] if row["currency"] == "EUR"]
    balances = euros["accounts"]
    assert sum(balances.values()) == 0
    assert balances["provider:stripe"] == provider


async def test_a_new_buyer_buys_with_a_promo_code_pays_by_stripe_and_gets_a_partial_refund(
    http: httpx.AsyncClient, stripe_api: StripeStandIn
) -> None:
    sale = await organizer_sets_up_a_sale(http)
    event_id = sale["event_id"]

    # Browse: the event is listed and shows what is on sale.
    listed = await http.get("/api/v1/events", params={"q": sale["title"]})
    assert listed.status_code == 200, listed.text
    assert event_id in [e["id"] for e in listed.json()["items"]]
    detail = await http.get(f"/api/v1/events/{event_id}")
    assert detail.status_code == 200
    available = await http.get(f"/api/v1/events/{event_id}/availability")
    assert [t["id"] for t in available.json()["ticket_types"]] == [sale["ticket_type_id"]]

    # Cart, anonymously: two tickets held.
    cart_token = new_cart_token()
    held = await http.post(
        f"/api/v1/events/{event_id}/holds",
        json={"ticket_type_id": sale["ticket_type_id"], "quantity": 2, "cart_token": cart_token},
    )
    assert held.status_code == 201, held.text

    # Sign in as a new user; the anonymous cart joins the account.
    person = Person.new("buyer")
    buyer = await signed_in_user(http, person)
    merged = await http.post(
        "/api/v1/me/cart/merge", json={"cart_token": cart_token}, headers=buyer
    )
    assert merged.json() == {"moved_holds": 1}

    # The cart with the promo code: 20% off, VAT 19% included, per line.
    bad_code = await http.get(
        f"/api/v1/events/{event_id}/cart", params={"promo_code": "NOPE"}, headers=buyer
    )
    assert [p["code"] for p in bad_code.json()["problems"]] == ["promo-code-invalid"]
    cart = (
        await http.get(
            f"/api/v1/events/{event_id}/cart",
            params={"promo_code": "launch20", "country": "DE"},
            headers=buyer,
        )
    ).json()
    assert cart["problems"] == []
    (line,) = cart["lines"]
    assert line["unit_price"] == 4000 and line["discount"] == 2000
    assert (line["gross"], line["tax"], line["net"]) == (8000, 1277, 6723)  # 8000 * 19/119
    assert line["tax_rule"]["label"] == "VAT 19%" and line["tax_rule"]["inclusive"] is True
    assert (cart["subtotal"], cart["discount"], cart["tax"], cart["total"]) == (
        10000,
        2000,
        1277,
        8000,
    )

    # Checkout with Stripe: the order awaits payment; a retry is the same order.
    body = {
        "payment_provider": "stripe",
        "promo_code": "LAUNCH20",
        "billing": {"country": "DE"},
        "attendees": [
            {
                "hold_id": held.json()["id"],
                "attendees": [
                    {"name": person.name, "email": person.email},
                    {
                        "name": "Friend Of Buyer",
                        "email": f"friend-{uuid.uuid4().hex[:6]}@example.com",
                    },
                ],
            }
        ],
    }
    key = {"Idempotency-Key": f"checkout-{uuid.uuid4()}"}
    placed = await http.post(
        f"/api/v1/events/{event_id}/checkout", json=body, headers={**buyer, **key}
    )
    assert placed.status_code == 201, placed.text
    retried = await http.post(
        f"/api/v1/events/{event_id}/checkout", json=body, headers={**buyer, **key}
    )
    assert (
        retried.status_code == 201 and retried.json()["order"]["id"] == placed.json()["order"]["id"]
    )
    changed = await http.post(
        f"/api/v1/events/{event_id}/checkout",
        json={**body, "promo_code": None},
        headers={**buyer, **key},
    )
    assert changed.status_code == 422
    order = placed.json()["order"]
    order_id = order["id"]
    assert order["status"] == "pending_payment"
    assert (order["total_amount"], order["tax_amount"], order["discount_amount"]) == (
        8000,
        1277,
        2000,
    )
    assert order["promo_code"] == "LAUNCH20"
    (order_line,) = order["lines"]
    assert (order_line["net_amount"], order_line["tax_amount"], order_line["gross_amount"]) == (
        6723,
        1277,
        8000,
    )
    client_secret = placed.json()["payment"]["client_data"]["client_secret"]
    intent = next(i for i in stripe_api.intents.values() if i["client_secret"] == client_secret)
    assert intent["amount"] == 8000 and intent["currency"] == "eur"

    # No tickets before Stripe says so.
    assert (await http.get("/api/v1/me/tickets", headers=buyer)).json()["items"] == []

    # Stripe reports the payment: the order is paid, two tickets are issued.
    first = await webhook(http, "payment_intent.succeeded", settled(intent))
    assert first["handled"] is True
    mine = (await http.get("/api/v1/me/tickets", headers=buyer)).json()["items"]
    assert len(mine) == 1 and mine[0]["status"] == "valid"  # the friend holds the other
    organizer_view = (
        await http.get(f"{sale['event_base']}/orders/{order_id}", headers=sale["admin"])
    ).json()
    assert organizer_view["status"] == "paid"
    tickets = (
        await http.get(
            f"{sale['event_base']}/tickets", params={"order_id": order_id}, headers=sale["admin"]
        )
    ).json()["items"]
    assert len(tickets) == 2
    await assert_ledger_balances(http, sale, provider=8000)

    # The friend cannot come: the organizer refunds that one ticket.
    friend_ticket = next(t for t in tickets if t["holder_email"] != person.email)
    refund = await http.post(
        f"{sale['base']}/orders/{order_id}/refunds",
        json={"reason": "Cannot attend", "ticket_ids": [friend_ticket["id"]]},
        headers={**sale["admin"], "Idempotency-Key": f"refund-{uuid.uuid4()}"},
    )
    assert refund.status_code == 201, refund.text
    assert refund.json()["amount"] == 4000 and refund.json()["status"] == "succeeded"
    (asked,) = [
        r for r in stripe_api.refund_requests() if r.form.get("payment_intent") == intent["id"]
    ]
    assert asked.form["amount"] == "4000" and asked.idempotency_key
    after_refund = (
        await http.get(f"{sale['event_base']}/orders/{order_id}", headers=sale["admin"])
    ).json()
    assert after_refund["status"] == "partially_refunded"
    assert after_refund["refunded_amount"] == 4000
    voided = (
        await http.get(f"{sale['event_base']}/tickets/{friend_ticket['id']}", headers=sale["admin"])
    ).json()
    assert voided["status"] == "void"
    await assert_ledger_balances(http, sale, provider=4000)
    before = await snapshot(http, sale, order_id, buyer)

    # Stripe delivers again, twice and out of order: nothing changes.
    refunded_charge = charge(settled(intent), amount_refunded=4000)
    again = await webhook(http, "payment_intent.succeeded", settled(intent))
    assert again["handled"] in (True, False)
    await webhook(http, "charge.refunded", refunded_charge)
    await webhook(http, "charge.refunded", refunded_charge)
    older = int(datetime.now(UTC).timestamp()) - 600
    await webhook(
        http, "charge.refunded", charge(settled(intent), amount_refunded=0), created=older
    )
    await webhook(
        http, "payment_intent.payment_failed", {**intent, "status": "requires_payment_method"}
    )
    payload, headers = signed_event("payment_intent.succeeded", settled(intent), WEBHOOK_SECRET)
    for _ in range(2):  # the very same delivery twice
        assert (await http.post(WEBHOOK, content=payload, headers=headers)).status_code == 200

    assert await snapshot(http, sale, order_id, buyer) == before
    await assert_ledger_balances(http, sale, provider=4000)

    # Refunding the voided ticket again is refused; the rest can still be refunded.
    twice = await http.post(
        f"{sale['base']}/orders/{order_id}/refunds",
        json={"reason": "again", "ticket_ids": [friend_ticket["id"]]},
        headers=sale["admin"],
    )
    assert twice.status_code in (409, 422) and problem_code(twice)
