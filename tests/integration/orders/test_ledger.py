"""The ledger over HTTP and in the database: a paid order's charge, refunds that give tax
back to the cent, disputes recorded once, balances that sum to zero, rows nobody can
change, and no organization seeing another's money."""

from __future__ import annotations

import uuid
from collections import Counter
from fractions import Fraction

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from builtin_plugins.orders import ledger
from builtin_plugins.orders.models import LedgerKind, Order, Payment
from builtin_plugins.orders.refund_units import split
from kernel.db import Database
from kernel.outbox import OutboxEvent
from tests.integration.conftest import new_organization
from tests.integration.inventory.support import make_type
from tests.integration.orders.refund_support import (  # noqa: F401 -- fixtures
    ledger_rows,
    paid_order,
    refund,
    shop_url_fixture,
)
from tests.integration.orders.support import (  # noqa: F401 -- fixtures
    STANDARD_PRICE,
    Buyer,
    Shop,
    checkout,
    http_fixture,
    open_shop,
    take,
)
from tests.integration.ticketing.support import staff

MANUAL = "provider:manual"


async def taxed_shop(http: httpx.AsyncClient, database: Database, rate: str = "19") -> Shop:
    """A shop whose organization taxes every line at ``rate`` percent, included in prices."""
    shop = await open_shop(http, database)
    rule = await http.post(
        f"{shop.venue.base}/tax-rules",
        json={"name": f"VAT {rate}%", "rate": rate, "price_includes_tax": True},
        headers=shop.venue.admin,
    )
    assert rule.status_code == 201, rule.text
    return shop


async def ledger_of(http: httpx.AsyncClient, shop: Shop, order_id: str) -> list[dict]:
    answer = await http.get(f"{shop.venue.base}/orders/{order_id}/ledger", headers=shop.venue.admin)
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]


def legs(transaction: dict) -> dict[str, int]:
    return {entry["account"]: entry["amount"] for entry in transaction["entries"]}


async def balances(http: httpx.AsyncClient, shop: Shop, headers=None) -> dict[str, dict]:
    answer = await http.get(
        f"{shop.venue.base}/ledger/balances", headers=headers or shop.venue.admin
    )
    assert answer.status_code == 200, answer.text
    return {b["currency"]: b["accounts"] for b in answer.json()["balances"]}


async def test_a_charge_and_a_ticket_refund_post_balanced_entries_to_the_cent(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await taxed_shop(http, database)
    order = await paid_order(http, shop, standard=3)
    line = order.line()
    tax, total = order.body["tax_amount"], order.total
    assert tax == line["tax_amount"] > 0 and total == 3 * STANDARD_PRICE

    (charge,) = await ledger_of(http, shop, order.id)
    assert charge["kind"] == "charge" and charge["provider"] == "manual"
    assert charge["reference"].startswith("manual-") and charge["currency"] == "EUR"
    assert legs(charge) == {MANUAL: total, "sales": -(total - tax), "tax": -tax}

    first = order.tickets[0]["id"]
    answer = await refund(http, shop, order.id, ticket_ids=[first])
    assert answer.status_code == 201, answer.text
    refund_tx, charge_again = await ledger_of(http, shop, order.id)  # newest first
    assert charge_again == charge
    assert refund_tx["kind"] == "refund" and refund_tx["reference"] == answer.json()["reference"]
    refunded_tax = legs(refund_tx)["tax"]
    assert refunded_tax == split(line["tax_amount"], 3)[0]  # the first unit's share
    assert legs(refund_tx) == {
        MANUAL: -STANDARD_PRICE,
        "sales": STANDARD_PRICE - refunded_tax,
        "tax": refunded_tax,
    }
    for transaction in (charge, refund_tx):
        assert sum(legs(transaction).values()) == 0

    # the order's share of each account: provider = paid - refunded, tax = collected - back
    mine = Counter()
    for transaction in await ledger_of(http, shop, order.id):
        mine.update(legs(transaction))
    assert mine[MANUAL] == total - STANDARD_PRICE
    assert mine["tax"] == -(tax - refunded_tax)
    assert mine["sales"] == -(total - tax) + (STANDARD_PRICE - refunded_tax)
    assert (await balances(http, shop))["EUR"] == dict(mine)


async def test_refunding_in_parts_gives_back_exactly_the_tax_collected(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await taxed_shop(http, database, rate="7")
    order = await paid_order(http, shop, standard=3)
    tax, total = order.body["tax_amount"], order.total

    money = await refund(http, shop, order.id, amount=1001)
    assert money.status_code == 201, money.text
    (money_tx, _) = await ledger_of(http, shop, order.id)
    expected = round(Fraction(1001 * tax, total))  # half to even
    assert legs(money_tx)["tax"] == expected

    ticket = await refund(http, shop, order.id, ticket_ids=[order.tickets[1]["id"]])
    assert ticket.status_code == 201, ticket.text
    rest = await refund(http, shop, order.id)
    assert rest.status_code == 201 and rest.json()["amount"] == total - 1001 - STANDARD_PRICE

    totals = Counter()
    for transaction in await ledger_of(http, shop, order.id):
        assert sum(legs(transaction).values()) == 0
        if transaction["kind"] == "refund":
            assert 0 <= legs(transaction).get("tax", 0) <= tax
        totals.update(legs(transaction))
    assert {account: amount for account, amount in totals.items() if amount} == {}


async def test_a_free_order_posts_nothing(http: httpx.AsyncClient, database: Database) -> None:
    shop = await open_shop(http, database)
    free = await make_type(
        http, shop.venue.organization_id, shop.venue.admin, shop.event_id, price_amount=0
    )
    buyer = await Buyer.signed_in(http)
    await take(http, shop, buyer, free["id"], 1)
    placed = await checkout(http, shop, buyer)
    assert placed.status_code == 201 and placed.json()["order"]["status"] == "paid"
    assert await ledger_of(http, shop, placed.json()["order"]["id"]) == []


async def test_the_history_filters_and_pages_newest_first(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database)
    first = await paid_order(http, shop, standard=1)
    second = await paid_order(http, shop, standard=2)
    assert (await refund(http, shop, second.id, amount=500)).status_code == 201
    url = f"{shop.venue.base}/ledger"
    admin = shop.venue.admin

    everything = (await http.get(url, headers=admin)).json()["items"]
    assert [(t["kind"], t["order_id"]) for t in everything] == [
        ("refund", second.id),
        ("charge", second.id),
        ("charge", first.id),
    ]
    pages, cursor = [], None
    while True:
        params = {"limit": 1} | ({"cursor": cursor} if cursor else {})
        page = (await http.get(url, params=params, headers=admin)).json()
        pages += [t["id"] for t in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == [t["id"] for t in everything]
    assert page["total"] == 3  # every page counts them all
    refunds_only = await http.get(url, params={"kind": "refund", "limit": 1}, headers=admin)
    assert refunds_only.json()["total"] == 1

    async def ids(**params) -> list[str]:
        answer = await http.get(url, params=params, headers=admin)
        assert answer.status_code == 200, answer.text
        return [t["id"] for t in answer.json()["items"]]

    assert await ids(kind="refund") == [everything[0]["id"]]
    assert await ids(order_id=first.id) == [everything[2]["id"]]
    assert await ids(currency="EUR") == [t["id"] for t in everything]
    assert await ids(currency="USD") == []
    assert await ids(occurred_from="2999-01-01T00:00:00Z") == []
    assert await ids(occurred_to="2000-01-01T00:00:00Z") == []
    assert await ids(occurred_from=everything[-1]["occurred_at"]) == [t["id"] for t in everything]
    bad = await http.get(url, params={"cursor": "nonsense"}, headers=admin)
    assert bad.status_code == 422
    assert (await http.get(url, params={"kind": "gift"}, headers=admin)).status_code == 422


async def test_the_ledger_is_the_organizations_own_and_needs_reports_view(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database)
    order = await paid_order(http, shop, standard=1)
    other_org, other_admin = await new_organization(http)

    theirs = await http.get(f"/api/v1/organizations/{other_org}/ledger", headers=other_admin)
    assert theirs.status_code == 200 and theirs.json()["items"] == []
    their_balances = await http.get(
        f"/api/v1/organizations/{other_org}/ledger/balances", headers=other_admin
    )
    assert their_balances.json() == {"balances": []}
    for path in ("ledger", "ledger/balances", f"orders/{order.id}/ledger"):
        peek = await http.get(f"{shop.venue.base}/{path}", headers=other_admin)
        assert peek.status_code == 404, path
    through_own = await http.get(
        f"/api/v1/organizations/{other_org}/orders/{order.id}/ledger", headers=other_admin
    )
    assert through_own.status_code == 404

    member = await staff(http, shop.venue, "user")  # a member without reports:view
    assert (await http.get(f"{shop.venue.base}/ledger", headers=member)).status_code == 403
    organizer = await staff(http, shop.venue, "organizer")
    assert (await http.get(f"{shop.venue.base}/ledger", headers=organizer)).status_code == 200


# -- the database keeps it honest -------------------------------------------------------------


async def test_ledger_rows_cannot_be_changed_or_deleted(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database)
    order = await paid_order(http, shop, standard=1)
    statements = (
        "UPDATE ledger_entry SET amount = amount + 1 WHERE transaction_id IN "
        "(SELECT id FROM ledger_transaction WHERE order_id = :order_id)",
        "DELETE FROM ledger_entry WHERE transaction_id IN "
        "(SELECT id FROM ledger_transaction WHERE order_id = :order_id)",
        "UPDATE ledger_transaction SET memo = 'edited' WHERE order_id = :order_id",
        "DELETE FROM ledger_transaction WHERE order_id = :order_id",
    )
    for statement in statements:
        with pytest.raises(DBAPIError, match="append-only"):
            async with database.transaction() as session:
                await session.execute(text(statement), {"order_id": uuid.UUID(order.id)})
    (charge,) = await ledger_of(http, shop, order.id)
    assert legs(charge)[MANUAL] == order.total and charge["memo"] != "edited"


async def test_an_unbalanced_transaction_cannot_commit(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database)
    organization_id = uuid.UUID(shop.venue.organization_id)
    reference = f"unbalanced-{uuid.uuid4()}"
    with pytest.raises(DBAPIError, match="does not balance"):
        async with database.transaction() as session:
            transaction_id = uuid.uuid4()
            await session.execute(
                text(
                    "INSERT INTO ledger_transaction (id, organization_id, kind, provider, "
                    "reference, currency) VALUES (:id, :org, 'fee', 'manual', :ref, 'EUR')"
                ),
                {"id": transaction_id, "org": organization_id, "ref": reference},
            )
            await session.execute(
                text(
                    "INSERT INTO ledger_entry (id, organization_id, transaction_id, account, "
                    "amount) VALUES (:id, :org, :tx, 'fees', 100)"
                ),
                {"id": uuid.uuid4(), "org": organization_id, "tx": transaction_id},
            )
    with pytest.raises(ValueError, match="does not balance"):
        async with database.transaction() as session:
            await ledger.post(
                session,
                organization_id=organization_id,
                order_id=None,
                kind=LedgerKind.FEE,
                provider="manual",
                reference=reference,
                currency="EUR",
                entries={"fees": 100, MANUAL: -99},
            )
    assert await balances(http, shop) == {}


async def test_a_dispute_is_posted_once_per_reference(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database)
    order = await paid_order(http, shop, standard=2)
    dispute = f"dp_{uuid.uuid4().hex}"

    recorded = []
    for _ in range(2):  # the provider's webhook, delivered twice
        async with database.transaction() as session:
            row = await session.get(Order, uuid.UUID(order.id))
            payment = await session.scalar(select(Payment).where(Payment.order_id == row.id))
            recorded.append(
                await ledger.record_dispute(
                    session,
                    order=row,
                    payment=payment,
                    amount=order.total,
                    reference=dispute,
                    reason="fraudulent",
                )
            )

    assert recorded == [True, False]
    kinds = [kind for kind, _ in await ledger_rows(database, order.id)]
    assert sorted(kinds) == ["charge", "dispute"]
    disputed = next(t for t in await ledger_of(http, shop, order.id) if t["kind"] == "dispute")
    assert legs(disputed) == {MANUAL: -order.total, "disputes": order.total}
    assert disputed["reference"] == dispute
    async with database.transaction() as session:
        events = list(
            await session.scalars(
                select(OutboxEvent).where(
                    OutboxEvent.topic == "order.disputed",
                    OutboxEvent.payload["order_id"].astext == order.id,
                )
            )
        )
    assert len(events) == 1 and events[0].payload["reference"] == dispute
    assert (await balances(http, shop))["EUR"] == {
        MANUAL: 0,
        "sales": -order.total,
        "disputes": order.total,
    }
