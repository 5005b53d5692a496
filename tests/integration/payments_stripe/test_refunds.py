"""Refunds and disputes through Stripe: an organizer's refund is made at Stripe on the
account that holds the payment, once; what Stripe reports (``charge.refunded``,
``charge.dispute.created``) lands in the order and the ledger exactly once, whatever
the order, repetition or concurrency of the deliveries."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import func, select

from builtin_plugins.orders.models import (
    LedgerEntry,
    LedgerKind,
    LedgerTransaction,
    Order,
    OrderStatus,
    Payment,
    PaymentStatus,
    Refund,
    RefundOrigin,
    RefundStatus,
)
from builtin_plugins.ticketing.models import Ticket, TicketStatus
from kernel.db import Database
from tests.integration.orders.support import open_shop
from tests.integration.payments_stripe.conftest import SECRET_KEY, WEBHOOK_SECRET
from tests.integration.payments_stripe.support import (
    StripeOrder,
    connected_account,
    deliver,
    organization_webhook,
    own_keys,
    send,
    settings_url,
    settled,
    state,
    stripe_order,
    use_account,
)
from tests.support.stripe_server import StripeStandIn, charge, dispute, signed_event

TOTAL = 5000  # two standard tickets


@dataclass(frozen=True)
class RefundRow:
    status: RefundStatus
    origin: RefundOrigin
    amount: int
    reference: str | None


@dataclass(frozen=True)
class Books:
    """What an order's money looks like: the order, its refunds, its ledger."""

    status: OrderStatus
    refunded_amount: int
    payment: tuple[PaymentStatus, str | None, datetime | None]  # status, failure, when
    refunds: list[RefundRow]
    ledger: dict[str, dict[str, int]]  # "<kind>:<reference>" -> account -> amount
    valid_tickets: int


async def books(database: Database, placed: StripeOrder) -> Books:
    async with database.transaction() as session:
        order = await session.get(Order, placed.order_id)
        payment = await session.get(Payment, placed.payment_id)
        assert order is not None and payment is not None
        refunds = [
            RefundRow(r.status, r.origin, r.amount, r.reference)
            for r in await session.scalars(
                select(Refund)
                .where(Refund.order_id == placed.order_id)
                .order_by(Refund.created_at, Refund.id)
            )
        ]
        ledger: dict[str, dict[str, int]] = {}
        rows = await session.execute(
            select(LedgerTransaction.kind, LedgerTransaction.reference, LedgerEntry)
            .join(LedgerEntry, LedgerEntry.transaction_id == LedgerTransaction.id)
            .where(LedgerTransaction.order_id == placed.order_id)
        )
        for kind, reference, entry in rows:
            ledger.setdefault(f"{kind.value}:{reference}", {})[entry.account] = entry.amount
        valid = await session.scalar(
            select(func.count())
            .select_from(Ticket)
            .where(Ticket.order_id == placed.order_id, Ticket.status == TicketStatus.VALID)
        )
    return Books(
        order.status,
        order.refunded_amount,
        (payment.status, payment.failure_reason, payment.succeeded_at),
        refunds,
        ledger,
        valid or 0,
    )


def ledger_of(found: Books, kind: LedgerKind) -> dict[str, dict[str, int]]:
    return {k: v for k, v in found.ledger.items() if k.startswith(f"{kind.value}:")}


async def paid_order(
    http: httpx.AsyncClient,
    database: Database,
    stripe_api: StripeStandIn,
    *,
    keys: dict[str, str] | None = None,
    account: dict[str, str] | None = None,
) -> StripeOrder:
    """An order paid by Stripe's webhook, on the platform's account unless ``keys`` (the
    organization's own) or ``account`` (a connected one) say otherwise."""
    shop = await open_shop(http, database)
    if keys or account:
        await use_account(http, shop, keys or account)  # type: ignore[arg-type]
    placed = await stripe_order(http, database, stripe_api, shop=shop)
    answer = await succeed(http, placed, keys=keys, account=account)
    assert answer.status_code == 200 and answer.json()["handled"], answer.text
    assert (await state(database, placed))[0].status is OrderStatus.PAID
    return placed


async def succeed(
    http: httpx.AsyncClient,
    placed: StripeOrder,
    *,
    keys: dict[str, str] | None = None,
    account: dict[str, str] | None = None,
) -> httpx.Response:
    return await report(
        http, placed, "payment_intent.succeeded", settled(placed.intent), keys, account
    )


async def report(
    http: httpx.AsyncClient,
    placed: StripeOrder,
    kind: str,
    subject: dict[str, Any],
    keys: dict[str, str] | None = None,
    account: dict[str, str] | None = None,
    **extra: Any,
) -> httpx.Response:
    """Deliver an event as the account that holds ``placed``'s payment sends it."""
    if keys:
        return await send(
            http,
            kind,
            subject,
            secret=keys["webhook_secret"],
            url=organization_webhook(placed.organization_id),
            **extra,
        )
    if account:
        extra["account"] = account["account_id"]
    return await send(http, kind, subject, **extra)


async def refund(
    http: httpx.AsyncClient, placed: StripeOrder, *, key: str | None = None, **body: Any
) -> httpx.Response:
    headers = dict(placed.shop.venue.admin)
    if key:
        headers["Idempotency-Key"] = key
    return await http.post(
        f"/api/v1/organizations/{placed.organization_id}/orders/{placed.order_id}/refunds",
        json={"reason": "requested by the buyer", **body},
        headers=headers,
    )


def refunds_asked(stripe_api: StripeStandIn, placed: StripeOrder) -> list:
    return [
        r for r in stripe_api.refund_requests() if r.form["payment_intent"] == placed.intent["id"]
    ]


async def test_an_organizers_refund_is_made_at_stripe_once_and_recorded(
    http: httpx.AsyncClient, database: Database, stripe_api: StripeStandIn
) -> None:
    placed = await paid_order(http, database, stripe_api)
    key = f"refund-{uuid.uuid4()}"
    answer = await refund(http, placed, key=key, amount=1500)
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["status"] == "succeeded" and body["reference"].startswith("re_")

    (asked,) = refunds_asked(stripe_api, placed)
    assert asked.api_key == SECRET_KEY and asked.stripe_account is None
    assert asked.form["amount"] == "1500"
    assert asked.idempotency_key == f"refund:{body['id']}"
    assert asked.form["metadata"]["order_id"] == str(placed.order_id)
    assert asked.form["metadata"]["refund_id"] == body["id"]
    assert stripe_api.refunds[body["reference"]]["status"] == "succeeded"

    found = await books(database, placed)
    assert found.status is OrderStatus.PARTIALLY_REFUNDED
    assert found.refunded_amount == 1500
    assert [r.reference for r in found.refunds] == [body["reference"]]
    assert ledger_of(found, LedgerKind.REFUND) == {
        f"refund:{body['reference']}": {"provider:stripe": -1500, "sales": 1500}
    }

    again = await refund(http, placed, key=key, amount=1500)  # the organizer retries
    assert again.status_code == 201 and again.json()["id"] == body["id"]
    assert len(refunds_asked(stripe_api, placed)) == 1

    # Stripe then reports the refund it made: nothing more happens
    reported = await report(
        http, placed, "charge.refunded", charge(placed.intent, amount_refunded=1500)
    )
    assert reported.status_code == 200 and reported.json()["handled"], reported.text
    after = await books(database, placed)
    assert after.refunded_amount == 1500 and len(after.refunds) == 1
    assert after.ledger == found.ledger


async def test_a_refund_is_made_on_the_account_that_holds_the_payment(
    http: httpx.AsyncClient, database: Database, stripe_api: StripeStandIn
) -> None:
    keys, account = own_keys(), connected_account()
    on_own_keys = await paid_order(http, database, stripe_api, keys=keys)
    on_connected = await paid_order(http, database, stripe_api, account=account)
    on_platform = await paid_order(http, database, stripe_api)
    # the organizations change accounts after the payments: the refunds still go to
    # the account that has the money
    await use_account(http, on_platform.shop, own_keys())
    removed = await http.delete(
        settings_url(on_connected.organization_id), headers=on_connected.shop.venue.admin
    )
    assert removed.status_code == 204

    for placed in (on_own_keys, on_connected, on_platform):
        answer = await refund(http, placed, amount=500)
        assert answer.status_code == 201, answer.text
    credentials = [
        (asked.api_key, asked.stripe_account)
        for placed in (on_own_keys, on_connected, on_platform)
        for asked in refunds_asked(stripe_api, placed)
    ]
    assert credentials == [
        (keys["secret_key"], None),
        (SECRET_KEY, account["account_id"]),
        (SECRET_KEY, None),
    ]


async def test_a_pending_refund_is_settled_when_stripe_reports_it(
    http: httpx.AsyncClient, database: Database, stripe_api: StripeStandIn
) -> None:
    placed = await paid_order(http, database, stripe_api)
    stripe_api.refund_status = "pending"
    try:
        answer = await refund(http, placed, amount=2000)
    finally:
        stripe_api.refund_status = "succeeded"
    assert answer.status_code == 202, answer.text
    assert answer.json()["status"] == "pending"
    found = await books(database, placed)
    assert found.status is OrderStatus.PAID and found.refunded_amount == 0
    assert ledger_of(found, LedgerKind.REFUND) == {}

    reported = await report(
        http, placed, "charge.refunded", charge(placed.intent, amount_refunded=2000)
    )
    assert reported.status_code == 200, reported.text
    found = await books(database, placed)
    (settled_refund,) = found.refunds
    assert settled_refund.status is RefundStatus.SUCCEEDED
    assert settled_refund.origin is RefundOrigin.ORGANIZER
    assert found.status is OrderStatus.PARTIALLY_REFUNDED
    assert found.refunded_amount == 2000


async def test_stripes_refused_or_waiting_refunds_are_told_apart(
    http: httpx.AsyncClient, database: Database, stripe_api: StripeStandIn
) -> None:
    placed = await paid_order(http, database, stripe_api)
    answers = {}
    for status in ("requires_action", "canceled", "failed"):
        stripe_api.refund_status = status
        try:
            answers[status] = await refund(http, placed, amount=100)
        finally:
            stripe_api.refund_status = "succeeded"
    assert answers["requires_action"].status_code == 202
    for status in ("canceled", "failed"):
        assert answers[status].status_code == 502, answers[status].text
        assert answers[status].json()["type"].endswith("refund-failed")
    found = await books(database, placed)
    assert [r.status for r in found.refunds] == [
        RefundStatus.PENDING,
        RefundStatus.FAILED,
        RefundStatus.FAILED,
    ]
    assert found.refunded_amount == 0


async def test_a_dashboard_refund_is_recorded_once_whatever_the_order_of_the_reports(
    http: httpx.AsyncClient, database: Database, stripe_api: StripeStandIn
) -> None:
    placed = await paid_order(http, database, stripe_api)
    first = charge(placed.intent, amount_refunded=1000)
    payload, headers = signed_event("charge.refunded", first, WEBHOOK_SECRET)
    answer = await deliver(http, payload, headers)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"received": True, "duplicate": False, "handled": True}

    found = await books(database, placed)
    assert found.status is OrderStatus.PARTIALLY_REFUNDED
    assert found.refunded_amount == 1000
    (made_at_stripe,) = found.refunds
    assert made_at_stripe.origin is RefundOrigin.PROVIDER
    assert made_at_stripe.status is RefundStatus.SUCCEEDED and made_at_stripe.amount == 1000
    assert ledger_of(found, LedgerKind.REFUND) == {
        f"refund:{first['id']}:1000": {"provider:stripe": -1000, "sales": 1000}
    }
    assert found.valid_tickets == 2  # money only: no ticket is voided

    # the same delivery again, and the same state reported by another event
    assert (await deliver(http, payload, headers)).json()["duplicate"] is True
    assert (await report(http, placed, "charge.refunded", first)).status_code == 200
    assert await books(database, placed) == found

    # a newer report, then an older one arriving late, then a late payment success
    newer = charge(placed.intent, amount_refunded=3000)
    assert (await report(http, placed, "charge.refunded", newer)).status_code == 200
    after_newer = await books(database, placed)
    assert after_newer.refunded_amount == 3000
    assert [r.amount for r in after_newer.refunds] == [1000, 2000]
    for late_kind, late in [
        ("charge.refunded", first),
        ("payment_intent.succeeded", settled(placed.intent)),
    ]:
        answer = await report(http, placed, late_kind, late)
        assert answer.status_code == 200, answer.text
        assert await books(database, placed) == after_newer

    # the rest, refunded in the dashboard too
    rest = charge(placed.intent, amount_refunded=TOTAL)
    assert (await report(http, placed, "charge.refunded", rest)).status_code == 200
    final = await books(database, placed)
    assert final.status is OrderStatus.REFUNDED and final.refunded_amount == TOTAL
    assert (
        sum(-legs["provider:stripe"] for legs in ledger_of(final, LedgerKind.REFUND).values())
        == TOTAL
    )


async def test_racing_reports_of_one_refund_record_it_once(
    http: httpx.AsyncClient, database: Database, stripe_api: StripeStandIn
) -> None:
    placed = await paid_order(http, database, stripe_api)
    reported = charge(placed.intent, amount_refunded=1200)
    payload, headers = signed_event("charge.refunded", reported, WEBHOOK_SECRET)
    answers = await asyncio.gather(
        *(deliver(http, payload, headers) for _ in range(4)),  # one event, redelivered
        *(report(http, placed, "charge.refunded", reported) for _ in range(4)),  # others
    )
    assert [a.status_code for a in answers] == [200] * 8, [a.text for a in answers]
    assert sum(a.json()["duplicate"] for a in answers[:4]) == 3
    found = await books(database, placed)
    assert found.refunded_amount == 1200
    assert [r.amount for r in found.refunds] == [1200]
    assert len(ledger_of(found, LedgerKind.REFUND)) == 1


async def test_a_refund_reported_before_the_payment_settles_both(
    http: httpx.AsyncClient, database: Database, stripe_api: StripeStandIn
) -> None:
    placed = await stripe_order(http, database, stripe_api)
    early = await report(
        http, placed, "charge.refunded", charge(placed.intent, amount_refunded=1000)
    )
    assert early.status_code == 200, early.text
    found = await books(database, placed)
    assert found.status is OrderStatus.PARTIALLY_REFUNDED
    assert found.refunded_amount == 1000 and found.valid_tickets == 2
    assert {k.split(":", 1)[0] for k in found.ledger} == {"charge", "refund"}

    late = await succeed(http, placed)
    assert late.status_code == 200, late.text
    assert await books(database, placed) == found


async def test_a_dispute_posts_once(
    http: httpx.AsyncClient, database: Database, stripe_api: StripeStandIn
) -> None:
    keys = own_keys()
    placed = await paid_order(http, database, stripe_api, keys=keys)
    opened = dispute(placed.intent, reason="fraudulent")
    url = organization_webhook(placed.organization_id)
    payload, headers = signed_event("charge.dispute.created", opened, keys["webhook_secret"])
    answer = await deliver(http, payload, headers, url)
    assert answer.status_code == 200 and answer.json()["handled"], answer.text
    found = await books(database, placed)
    assert ledger_of(found, LedgerKind.DISPUTE) == {
        f"dispute:{opened['id']}": {"provider:stripe": -TOTAL, "disputes": TOTAL}
    }

    again = await asyncio.gather(
        deliver(http, payload, headers, url),  # redelivered
        report(http, placed, "charge.dispute.created", opened, keys),  # another event
        report(http, placed, "charge.dispute.created", opened, keys),
    )
    assert [a.status_code for a in again] == [200] * 3, [a.text for a in again]
    assert await books(database, placed) == found


async def test_another_accounts_reports_change_nothing(
    http: httpx.AsyncClient, database: Database, stripe_api: StripeStandIn
) -> None:
    victim = await paid_order(http, database, stripe_api)
    mallory = own_keys()
    mallorys = await paid_order(http, database, stripe_api, keys=mallory)
    before = await books(database, victim)
    for kind, subject in [
        ("charge.refunded", charge(victim.intent, amount_refunded=TOTAL)),
        ("charge.dispute.created", dispute(victim.intent)),
    ]:
        answer = await send(
            http,
            kind,
            subject,
            secret=mallory["webhook_secret"],
            url=organization_webhook(mallorys.organization_id),
        )
        assert answer.status_code == 200, answer.text
    assert await books(database, victim) == before
