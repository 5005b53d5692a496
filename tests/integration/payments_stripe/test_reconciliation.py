"""Financial reconciliation through real HTTP and the Stripe stand-in: orders paid with
Stripe on a connected account, one refunded, the balance paid out, the provider's records
imported; the report and the payout statement are checked against figures computed here
from the stand-in's own charges, and each kind of discrepancy injected shows up."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select

from builtin_plugins.orders.reconciliation_models import ProviderBalanceTransaction
from kernel.db import Database
from tests.integration.orders.support import open_shop
from tests.integration.payments_stripe.support import (
    StripeOrder,
    connected_account,
    send,
    settled,
    stripe_order,
    use_account,
)
from tests.integration.ticketing.support import staff
from tests.support.stripe_balance import processing_fee
from tests.support.stripe_server import StripeStandIn


def today() -> str:
    return datetime.now(UTC).date().isoformat()


def reports(org: str) -> str:
    return f"/api/v1/organizations/{org}/reports"


async def pay(
    http: httpx.AsyncClient, stripe_api: StripeStandIn, placed: StripeOrder, *, charge: bool = True
) -> None:
    """The buyer pays at Stripe (unless ``charge`` is false: done before), and Stripe's
    webhook tells us."""
    if charge:
        stripe_api.succeed(placed.intent["id"])
    answer = await send(
        http,
        "payment_intent.succeeded",
        settled(placed.intent),
        account=placed.client_data.get("stripe_account"),
    )
    assert answer.status_code == 200 and answer.json()["handled"], answer.text


async def connected_shop(http, database, stripe_api, orders: int) -> list[StripeOrder]:
    shop = await open_shop(http, database)
    await use_account(http, shop, connected_account())
    placed = []
    for quantity in range(1, orders + 1):
        one = await stripe_order(http, database, stripe_api, quantity, shop=shop)
        await pay(http, stripe_api, one)
        placed.append(one)
    return placed


async def import_now(http: httpx.AsyncClient, placed: StripeOrder) -> dict[str, Any]:
    since = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    answer = await http.post(
        f"/api/v1/organizations/{placed.organization_id}/reconciliation/imports",
        json={"provider": "stripe", "since": since},
        headers=placed.shop.venue.admin,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


async def report(
    http: httpx.AsyncClient, placed: StripeOrder, headers=None, **params: Any
) -> dict[str, Any]:
    answer = await http.get(
        f"{reports(placed.organization_id)}/reconciliation",
        params={"from": today(), "to": today(), **params},
        headers=headers or placed.shop.venue.admin,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def account_of(stripe_api: StripeStandIn, placed: StripeOrder) -> str:
    return stripe_api.owner(placed.intent["id"])


def charge_txn(stripe_api: StripeStandIn, placed: StripeOrder) -> dict[str, Any]:
    return next(
        t
        for t in stripe_api.balance.transactions
        if stripe_api.balance.sources[t["source"]].get("payment_intent") == placed.intent["id"]
        and t["reporting_category"] == "charge"
    )


async def test_the_ledger_reconciles_with_stripe_and_the_payout_statement_adds_up(
    http: httpx.AsyncClient, database: Database, stripe_api: StripeStandIn
) -> None:
    placed = await connected_shop(http, database, stripe_api, orders=3)
    first = placed[0]
    refunded = await http.post(
        f"/api/v1/organizations/{first.organization_id}/orders/{first.order_id}/refunds",
        json={"reason": "requested by the buyer", "amount": 1000},
        headers=first.shop.venue.admin,
    )
    assert refunded.status_code == 201, refunded.text
    (payout,) = stripe_api.pay_out(first.intent["id"])

    imported = await import_now(http, first)
    assert imported["balance_transactions"] == 5  # three charges, a refund, the payout
    assert imported["payouts"] == 1 and imported["fees_booked"] == 3
    again = await import_now(http, first)  # idempotent: same rows, fees booked once
    assert again["balance_transactions"] == 5 and again["fees_booked"] == 0
    async with database.transaction() as session:
        rows = await session.scalar(
            select(func.count())
            .select_from(ProviderBalanceTransaction)
            .where(ProviderBalanceTransaction.organization_id == first.organization_id)
        )
    assert rows == 5

    amounts = [p.intent["amount"] for p in placed]
    fees = sum(processing_fee(a) for a in amounts)
    found = await report(http, first)
    assert found["mismatches"] == 0 and found["items"] == [], found["items"]
    (totals,) = found["totals"]
    assert totals == {
        "currency": first.intent["currency"].upper(),
        "provider_charges": sum(amounts),
        "provider_refunds": -1000,
        "provider_disputes": 0,
        "provider_fees": fees,
        "provider_net": sum(amounts) - 1000 - fees,
        "ledger_charges": sum(amounts),
        "ledger_refunds": -1000,
        "ledger_disputes": 0,
        "ledger_fees": fees,
        "ledger_net": sum(amounts) - 1000 - fees,
        "difference": 0,
        "mismatches": 0,
    }

    # every line, page by page, and the CSV holds the same lines
    items, cursor = [], None
    while True:
        params = {"include_matched": "true", "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = await report(http, first, **params)
        items.extend(page["items"])
        if (cursor := page["next_cursor"]) is None:
            break
    assert [i["finding"] for i in items] == ["matched"] * 4
    assert sorted(i["movement"] for i in items) == ["charge", "charge", "charge", "refund"]
    answer = await http.get(
        f"{reports(first.organization_id)}/reconciliation",
        params={"from": today(), "to": today(), "include_matched": "true", "format": "csv"},
        headers=first.shop.venue.admin,
    )
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert [(r["reference"], r["provider_id"], r["ledger_amount"]) for r in rows] == [
        (i["reference"], i["provider"]["id"], str(i["ledger"]["amount"])) for i in items
    ]

    # the payout statement
    net = sum(amounts) - 1000 - fees
    assert payout["amount"] == net
    listed = await http.get(
        f"{reports(first.organization_id)}/payouts", headers=first.shop.venue.admin
    )
    assert listed.status_code == 200, listed.text
    (summary,) = listed.json()["items"]
    assert summary["id"] == payout["id"] and summary["reconciles"] is True
    assert (summary["charges"], summary["refunds"], summary["fees"], summary["net"]) == (
        sum(amounts),
        -1000,
        fees,
        net,
    )
    detail = await http.get(
        f"{reports(first.organization_id)}/payouts/{payout['id']}", headers=first.shop.venue.admin
    )
    assert detail.status_code == 200, detail.text
    body = detail.json()
    assert body["amount"] == net and body["transactions"] == 4
    assert {i["transaction"]["kind"] for i in body["items"]} == {"charge", "refund"}
    assert all(i["findings"] == ["matched"] for i in body["items"])
    as_csv = await http.get(
        f"{reports(first.organization_id)}/payouts/{payout['id']}",
        params={"format": "csv"},
        headers=first.shop.venue.admin,
    )
    lines = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [(r["transaction_id"], r["transaction_net"]) for r in lines] == [
        (i["transaction"]["id"], str(i["transaction"]["net"])) for i in body["items"]
    ]

    # finance may read it; another organization sees nothing of it
    finance = await staff(http, first.shop.venue, "finance")
    assert (await report(http, first, headers=finance))["totals"] == found["totals"]
    stranger_shop = await open_shop(http, database)
    stranger = stranger_shop.venue.admin
    foreign = await http.get(
        f"{reports(first.organization_id)}/reconciliation",
        params={"from": today(), "to": today()},
        headers=stranger,
    )
    assert foreign.status_code in (403, 404)
    own = await http.get(
        f"{reports(stranger_shop.venue.organization_id)}/payouts/{payout['id']}", headers=stranger
    )
    assert own.status_code == 404
    empty = await http.get(
        f"{reports(stranger_shop.venue.organization_id)}/reconciliation",
        params={"from": today(), "to": today(), "include_matched": "true"},
        headers=stranger,
    )
    assert empty.status_code == 200 and empty.json()["items"] == []


async def test_each_kind_of_discrepancy_is_listed(
    http: httpx.AsyncClient, database: Database, stripe_api: StripeStandIn
) -> None:
    placed = await connected_shop(http, database, stripe_api, orders=4)
    differs, missing, other_currency, fee_changed = placed
    account = account_of(stripe_api, differs)
    charge_txn(stripe_api, differs)["amount"] += 100
    stripe_api.balance.transactions.remove(charge_txn(stripe_api, missing))
    charge_txn(stripe_api, other_currency)["currency"] = "usd"
    unknown_charge = stripe_api.balance.record(
        account,
        "charge",
        {"id": "ch_unknown", "payment_intent": "pi_unknown", "currency": "eur"},
        999,
        fee=59,
    )
    unknown_refund = stripe_api.balance.record(
        account,
        "refund",
        {"id": "re_unknown", "payment_intent": differs.intent["id"], "currency": "eur"},
        -500,
    )
    await import_now(http, differs)
    charge_txn(stripe_api, fee_changed)["fee"] += 7  # the provider revised its fee
    late = await stripe_order(http, database, stripe_api, 1, shop=differs.shop)
    stripe_api.succeed(late.intent["id"])  # paid at Stripe, its webhook not here yet
    await import_now(http, differs)
    await pay(
        http, stripe_api, late, charge=False
    )  # the webhook arrives: its fee is not booked yet

    found = await report(http, differs)
    by_reference = {(i["reference"], i["finding"]): i for i in found["items"]}
    assert set(by_reference) == {
        (differs.intent["id"], "amount_differs"),
        (missing.intent["id"], "missing_at_provider"),
        (other_currency.intent["id"], "currency_differs"),
        ("pi_unknown", "missing_in_ledger"),
        ("re_unknown", "missing_in_ledger"),
        (fee_changed.intent["id"], "fee_differs"),
        (late.intent["id"], "fee_not_booked"),
    }
    assert found["mismatches"] == 7
    amount = by_reference[(differs.intent["id"], "amount_differs")]
    assert amount["provider"]["amount"] == differs.intent["amount"] + 100
    assert amount["ledger"]["amount"] == differs.intent["amount"]
    assert (
        by_reference[("pi_unknown", "missing_in_ledger")]["provider"]["id"]
        == (unknown_charge["id"])
    )
    assert by_reference[("re_unknown", "missing_in_ledger")]["ledger"] is None
    assert by_reference[(missing.intent["id"], "missing_at_provider")]["provider"] is None
    fee = by_reference[(fee_changed.intent["id"], "fee_differs")]
    assert fee["provider"]["fee"] == fee["ledger"]["fee"] + 7
    assert unknown_refund["amount"] == -500

    await import_now(http, differs)  # the late charge's fee is booked now
    found = await report(http, differs)
    assert (late.intent["id"], "fee_not_booked") not in {
        (i["reference"], i["finding"]) for i in found["items"]
    }
    assert found["mismatches"] == 6


async def test_bad_input_is_refused_with_a_problem(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database)
    org, admin = shop.venue.organization_id, shop.venue.admin
    for params in (
        {"from": "2026-03-02", "to": "2026-03-01"},
        {"from": "2025-01-01", "to": "2026-01-01"},
        {"from": "not-a-day", "to": "2026-01-01"},
        {"from": "2026-03-01", "to": "2026-03-01", "cursor": "%%%"},
        {"from": "2026-03-01", "to": "2026-03-01", "limit": 0},
    ):
        answer = await http.get(f"{reports(org)}/reconciliation", params=params, headers=admin)
        assert answer.status_code == 422, (params, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
    url = f"/api/v1/organizations/{org}/reconciliation/imports"
    now = datetime.now(UTC)
    for body in (
        {"since": now.isoformat(), "until": (now - timedelta(days=1)).isoformat()},
        {"since": (now - timedelta(days=200)).isoformat()},
        {"since": "2026-01-01T00:00:00"},  # no time zone
        {"since": now.isoformat(), "provider": "no such!"},
        {"since": (now - timedelta(days=1)).isoformat(), "provider": "nobody"},
    ):
        answer = await http.post(url, json=body, headers=admin)
        assert answer.status_code == 422, (body, answer.text)
    member = await staff(http, shop.venue, "user")
    forbidden = await http.get(
        f"{reports(org)}/reconciliation", params={"from": today(), "to": today()}, headers=member
    )
    assert forbidden.status_code == 403


async def test_on_the_platform_account_an_organization_imports_only_its_own_records(
    http: httpx.AsyncClient, database: Database, stripe_api: StripeStandIn
) -> None:
    ours = await stripe_order(http, database, stripe_api, 1)
    theirs = await stripe_order(http, database, stripe_api, 2)
    for placed in (ours, theirs):
        await pay(http, stripe_api, placed)
    assert account_of(stripe_api, ours) == account_of(stripe_api, theirs)  # one balance
    stripe_api.pay_out(ours.intent["id"])  # the platform's payout, no organization's

    imported = await import_now(http, ours)
    assert (imported["balance_transactions"], imported["payouts"]) == (1, 0)
    found = await report(http, ours, include_matched="true")
    assert [(i["reference"], i["finding"]) for i in found["items"]] == [
        (ours.intent["id"], "matched")
    ]
    listed = await http.get(
        f"{reports(ours.organization_id)}/payouts", headers=ours.shop.venue.admin
    )
    assert listed.status_code == 200 and listed.json()["items"] == []
