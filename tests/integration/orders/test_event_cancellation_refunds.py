"""Cancelling an event refunds every paid order once, in the background: the outbox
relay runs the jobs (driven here with ``OutboxRelay.deliver_pending``), retries them with
the same provider idempotency key, and running every delivery again changes nothing."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

import httpx
from sqlalchemy import text

from builtin_plugins.orders import refund_jobs
from builtin_plugins.orders.models import RefundOrigin, RefundStatus
from kernel.db import Database
from kernel.outbox import OutboxRelay
from tests.integration.inventory.support import make_type
from tests.integration.orders.refund_support import (  # noqa: F401 -- fixtures
    PAYMENTS,
    TEST_PROVIDER,
    count_sql,
    kernel_for,
    ledger_rows,
    order_view,
    paid_order,
    refund,
    refunds_in_db,
    shop_url_fixture,
    ticket_statuses,
)
from tests.integration.orders.support import (  # noqa: F401 -- fixtures
    Buyer,
    Shop,
    checkout,
    http_fixture,
    open_shop,
    order_holds,
    take,
)

TOPICS = (refund_jobs.EVENT_CANCELLED, refund_jobs.REFUND_REQUESTED)
OF_EVENT = "topic = ANY(:topics) AND payload->>'event_id' = :event_id"


async def drive(
    relay: OutboxRelay, database: Database, event_id: uuid.UUID, done: Callable[[], Awaitable[bool]]
) -> None:
    """Deliver until ``done``: back-offs are made due at once instead of slept through.
    (The app's own relay may deliver some of them first: the outcome is the same.)"""
    params = {"topics": list(TOPICS), "event_id": str(event_id)}
    for _ in range(300):
        await relay.deliver_pending()
        if await done():
            return
        async with database.transaction() as session:
            await session.execute(
                text(
                    f"UPDATE outbox_event SET next_attempt_at = now() WHERE {OF_EVENT} "
                    "AND dispatched_at IS NULL"
                ),
                params,
            )
        await asyncio.sleep(0.05)
    raise AssertionError("the refund jobs did not finish")


async def undelivered(database: Database, event_id: uuid.UUID) -> int:
    return await count_sql(
        database,
        f"SELECT count(*) FROM outbox_event WHERE {OF_EVENT} AND dispatched_at IS NULL",
        topics=list(TOPICS),
        event_id=str(event_id),
    )


async def deliver_everything_again(database: Database, event_id: uuid.UUID) -> None:
    """Forget that the jobs ran: every delivery of the cancellation happens again."""
    params = {"topics": list(TOPICS), "event_id": str(event_id)}
    async with database.transaction() as session:
        await session.execute(
            text(
                "DELETE FROM outbox_delivery WHERE event_id IN "
                f"(SELECT id FROM outbox_event WHERE {OF_EVENT})"
            ),
            params,
        )
        await session.execute(
            text(
                "UPDATE outbox_event SET dispatched_at = NULL, next_attempt_at = now() "
                f"WHERE {OF_EVENT}"
            ),
            params,
        )


async def statuses(http: httpx.AsyncClient, shop: Shop, *order_ids: str) -> list[str]:
    return [(await order_view(http, shop, order_id))["status"] for order_id in order_ids]


async def test_cancelling_an_event_refunds_every_paid_order_exactly_once(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database)
    paid = await paid_order(http, shop, standard=2)
    partly = await paid_order(http, shop, standard=1, vip=1)
    assert (await refund(http, shop, partly.id, amount=1000)).status_code == 201
    done_before = await paid_order(http, shop, standard=1)
    assert (await refund(http, shop, done_before.id)).status_code == 201
    by_card = await paid_order(http, shop, provider=TEST_PROVIDER, standard=1)
    free_type = await make_type(
        http, shop.venue.organization_id, shop.venue.admin, shop.event_id, price_amount=0
    )
    free_buyer = await Buyer.signed_in(http)
    await take(http, shop, free_buyer, free_type["id"], 2)
    free = (await checkout(http, shop, free_buyer)).json()["order"]["id"]
    unpaid_buyer = await Buyer.signed_in(http)
    await take(http, shop, unpaid_buyer, shop.standard, 1)
    unpaid = (await checkout(http, shop, unpaid_buyer, payment_provider="manual")).json()
    unpaid_id = unpaid["order"]["id"]
    # the card refund is made, then its answer is lost: the delivery rolls back and retries
    PAYMENTS.provider.raise_once_after_refunding = True
    heard_before = len(PAYMENTS.after_refund)

    cancelled = await http.post(
        f"{shop.venue.event_base}/cancel", json={"reason": "storm"}, headers=shop.venue.admin
    )
    assert cancelled.status_code == 200, cancelled.text
    relay = OutboxRelay(database, refund_jobs.subscriptions(), kernel=kernel_for(database))
    refundable = (paid.id, partly.id, by_card.id)

    async def finished() -> bool:
        settled = await statuses(http, shop, *refundable, free, unpaid_id)
        return settled == ["refunded"] * 3 + ["cancelled"] * 2 and not await undelivered(
            database, shop.event_id
        )

    await drive(relay, database, shop.event_id, finished)

    for order in (paid, partly, by_card):
        view = await order_view(http, shop, order.id)
        assert view["refunded_amount"] == order.total, order.id
        assert set((await ticket_statuses(database, order.id)).values()) == {"void"}
        made = await refunds_in_db(database, order.id)
        (by_job,) = [r for r in made if r.origin is RefundOrigin.EVENT_CANCELLED]
        assert by_job.status is RefundStatus.SUCCEEDED and by_job.reason == "storm"
        assert sum(r.amount for r in made) == order.total
        assert [k for k, _ in await ledger_rows(database, order.id)].count("refund") == len(made)
    assert [r.amount for r in await refunds_in_db(database, partly.id)] == [
        1000,
        partly.total - 1000,
    ]
    (card_refund,) = await refunds_in_db(database, by_card.id)
    asked = [r for r in PAYMENTS.provider.requests if str(r.order_id) == by_card.id]
    assert len(asked) >= 2  # the first answer was lost
    assert {r.idempotency_key for r in asked} == {f"refund:{card_refund.id}"}
    assert card_refund.reference == PAYMENTS.provider.refunds[f"refund:{card_refund.id}"].reference
    assert len(await refunds_in_db(database, done_before.id)) == 1  # nothing more to give
    assert set((await ticket_statuses(database, free)).values()) == {"void"}
    assert await refunds_in_db(database, free) == []
    assert [hold["status"] for hold in await order_holds(database, unpaid_id)] == ["released"]
    last = (await order_view(http, shop, unpaid_id))["transitions"][-1]
    assert (last["to_status"], last["actor"]) == ("cancelled", "system")

    # the after-refund hook hears of each job's refund once its delivery committed
    job_refunds = {
        str(r.id)
        for order in refundable
        for r in await refunds_in_db(database, order)
        if r.origin is RefundOrigin.EVENT_CANCELLED
    }
    for _ in range(200):
        heard = {str(call[1].refund_id) for call in PAYMENTS.after_refund[heard_before:]}
        if job_refunds <= heard:
            break
        await asyncio.sleep(0.05)
    assert job_refunds <= heard

    # every delivery again: no order is refunded twice, nothing moves
    refunds_before = {
        order: [(r.id, r.amount, r.status) for r in await refunds_in_db(database, order)]
        for order in (*refundable, done_before.id, free)
    }
    ledger_before = {order: await ledger_rows(database, order) for order in refunds_before}
    asked_before = len(PAYMENTS.provider.requests)
    await deliver_everything_again(database, shop.event_id)
    assert await undelivered(database, shop.event_id) > 0

    async def redelivered() -> bool:
        return not await undelivered(database, shop.event_id)

    await drive(relay, database, shop.event_id, redelivered)

    for order, before in refunds_before.items():
        after = [(r.id, r.amount, r.status) for r in await refunds_in_db(database, order)]
        assert after == before, order
        assert await ledger_rows(database, order) == ledger_before[order]
    assert len(PAYMENTS.provider.requests) == asked_before
    assert await statuses(http, shop, *refundable) == ["refunded"] * 3
