"""Tax on the buying path over HTTP: the cart shows each line's split under the
organizer's rule, and the placed order stores exactly that net, tax and gross."""

from __future__ import annotations

import httpx

from builtin_plugins.taxes.calculation import REVERSE_CHARGE_NOTE
from kernel.db import Database
from tests.integration.orders.support import Buyer, checkout, take
from tests.integration.taxes.support import (  # noqa: F401 -- fixtures
    Organizer,
    add_rule,
    http_fixture,
    new_event,
    tax_url_fixture,
)


def split(line: dict, suffix: str = "") -> tuple[int, int, int]:
    return line[f"net{suffix}"], line[f"tax{suffix}"], line[f"gross{suffix}"]


async def cart_of(http: httpx.AsyncClient, org: Organizer, buyer: Buyer, **query) -> dict:
    query.setdefault("cart_token", buyer.cart_token)
    answer = await http.get(f"/api/v1/events/{org.event_id}/cart", params=query)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def stored_order(http: httpx.AsyncClient, org: Organizer, order_id: str) -> dict:
    answer = await http.get(
        f"{org.base}/events/{org.event_id}/orders/{order_id}", headers=org.admin
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_an_order_keeps_the_tax_the_cart_showed(
    http: httpx.AsyncClient, database: Database
) -> None:
    org = await new_event(http, database, country="DE", price=1000)
    rule = await add_rule(http, org)
    buyer = Buyer.anonymous()
    await take(http, org, buyer, org.standard, 3)
    await take(http, org, buyer, org.vip, 1)

    cart = await cart_of(http, org, buyer)

    # 3000 * 19 / 119 = 478.99 -> 479 for the line; per unit it would be 3 * 160 = 480
    standard, vip = cart["lines"]
    assert split(standard) == (2521, 479, 3000)
    assert split(vip) == (840, 160, 1000)
    assert standard["tax_rule"] == {
        "rule": rule["id"],
        "label": "VAT 19%",
        "rate": "19",
        "inclusive": True,
        "note": "",
    }
    assert (cart["tax"], cart["total"]) == (639, 4000)

    placed = await checkout(http, org, buyer)

    assert placed.status_code == 201, placed.text
    order = await stored_order(http, org, placed.json()["order"]["id"])
    assert (order["tax_amount"], order["total_amount"]) == (639, 4000)
    lines = sorted(order["lines"], key=lambda line: line["position"])
    assert [split(line, "_amount") for line in lines] == [(2521, 479, 3000), (840, 160, 1000)]
    assert lines[0]["tax"]["rule"] == rule["id"]
    assert lines[0]["tax"]["rate"] == "19"


async def test_a_foreign_business_pays_the_net_under_reverse_charge(
    http: httpx.AsyncClient, database: Database
) -> None:
    org = await new_event(http, database, country="DE", price=1190)
    await add_rule(http, org, b2b="reverse_charge")
    buyer = Buyer.anonymous()
    await take(http, org, buyer, org.standard, 2)
    billing = {"company": "Exemple SARL", "country": "FR", "tax_id": "FR12345678901"}

    cart = await cart_of(http, org, buyer, country="FR", tax_id="FR12345678901")
    assert split(cart["lines"][0]) == (2000, 0, 2000)

    placed = await checkout(http, org, buyer, billing=billing)

    assert placed.status_code == 201, placed.text
    order = await stored_order(http, org, placed.json()["order"]["id"])
    assert (order["tax_amount"], order["total_amount"]) == (0, 2000)
    (line,) = order["lines"]
    assert split(line, "_amount") == (2000, 0, 2000)
    assert line["tax"]["note"] == REVERSE_CHARGE_NOTE


async def test_a_buyer_basis_rule_adds_tax_by_the_billing_address(
    http: httpx.AsyncClient, database: Database
) -> None:
    org = await new_event(http, database, country="US", region="NY", price=999)
    await add_rule(
        http,
        org,
        name="CA sales tax",
        rate="7.25",
        country="US",
        region="CA",
        basis="buyer",
        price_includes_tax=False,
    )
    californian, new_yorker = Buyer.anonymous(), Buyer.anonymous()
    await take(http, org, californian, org.standard, 1)
    await take(http, org, new_yorker, org.standard, 1)

    in_ca = await checkout(http, org, californian, billing={"country": "US", "region": "US-CA"})
    in_ny = await checkout(http, org, new_yorker, billing={"country": "US", "region": "US-NY"})

    assert in_ca.status_code == in_ny.status_code == 201, (in_ca.text, in_ny.text)
    ca_order = await stored_order(http, org, in_ca.json()["order"]["id"])
    assert split(ca_order["lines"][0], "_amount") == (999, 72, 1071)
    assert ca_order["total_amount"] == 1071
    ny_order = await stored_order(http, org, in_ny.json()["order"]["id"])
    assert split(ny_order["lines"][0], "_amount") == (999, 0, 999)


async def test_a_rule_change_reaches_the_next_cart_at_once(
    http: httpx.AsyncClient, database: Database
) -> None:
    """Within the rule cache's lifetime: the write forgot the organization's rules."""
    org = await new_event(http, database, country="DE", price=1070)
    rule = await add_rule(http, org)
    buyer = Buyer.anonymous()
    await take(http, org, buyer, org.standard, 1)
    assert (await cart_of(http, org, buyer))["lines"][0]["tax_rule"]["rate"] == "19"

    changed = await http.patch(f"{org.rules}/{rule['id']}", json={"rate": "7"}, headers=org.admin)
    assert changed.status_code == 200

    (line,) = (await cart_of(http, org, buyer))["lines"]
    assert split(line) == (1000, 70, 1070)
    await http.delete(f"{org.rules}/{rule['id']}", headers=org.admin)
    (line,) = (await cart_of(http, org, buyer))["lines"]
    assert split(line) == (1070, 0, 1070)
