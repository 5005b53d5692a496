"""Refunding paid orders over HTTP: in full, per ticket, per line, money only, with units
back on sale; refusals; concurrent refunds never give back more than was paid; retries
with an Idempotency-Key; what the provider answers (later, no, nothing) and reports."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from builtin_plugins.orders.models import Order, Payment, RefundOrigin, RefundStatus
from builtin_plugins.orders.refund_units import split
from builtin_plugins.orders.refunds import (
    RefundAsk,
    prepare,
    reconcile_provider_refunds,
    retry_stale,
)
from kernel.codes import display_code
from kernel.db import Database
from tests.integration.conftest import new_organization
from tests.integration.orders.refund_support import (  # noqa: F401 -- fixtures
    PAYMENTS,
    TEST_PROVIDER,
    available,
    kernel_for,
    ledger_rows,
    order_view,
    paid_order,
    refund,
    refunds_in_db,
    refunds_url,
    shop_url_fixture,
    ticket_statuses,
)
from tests.integration.orders.support import (  # noqa: F401 -- fixtures
    STANDARD_PRICE,
    Buyer,
    checkout,
    http_fixture,
    open_shop,
    take,
)
from tests.integration.test_cli import run_cli
from tests.integration.ticketing.checkin_support import make_list, scan
from tests.integration.ticketing.support import problem_code, staff


@pytest.fixture(autouse=True)
def provider_succeeds():
    PAYMENTS.provider.mode = "succeeded"
    PAYMENTS.provider.raise_once_after_refunding = False
    yield
    PAYMENTS.provider.mode = "succeeded"


def test_a_line_is_split_across_its_units_with_the_remainder_cents_first() -> None:
    assert split(2501, 2) == [1251, 1250]
    assert split(1000, 3) == [334, 333, 333]
    assert split(7, 1) == [7]
    assert sum(split(99_999, 7)) == 99_999


# -- what a refund does ---------------------------------------------------------------------


async def test_a_full_refund_voids_every_ticket_and_the_order_is_refunded(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database)
    order = await paid_order(http, shop, standard=2)
    calls_before = len(PAYMENTS.after_refund)

    answer = await refund(http, shop, order.id, reason="event moved")

    assert answer.status_code == 201, answer.text
    done = answer.json()
    assert done["status"] == "succeeded" and done["origin"] == "organizer"
    assert done["amount"] == 2 * STANDARD_PRICE == order.total
    assert done["provider"] == "manual" and done["reference"] == f"manual-refund-{done['id']}"
    (item,) = done["items"]
    assert item["quantity"] == 2 and item["amount"] == order.total
    assert sorted(item["ticket_ids"]) == sorted(t["id"] for t in order.tickets)
    assert set((await ticket_statuses(database, order.id)).values()) == {"void"}

    view = await order_view(http, shop, order.id)
    assert view["status"] == "refunded" and view["refunded_amount"] == order.total
    assert view["closed_at"] is not None
    last = view["transitions"][-1]
    assert (last["from_status"], last["to_status"], last["actor"], last["reason"]) == (
        "paid",
        "refunded",
        "organizer",
        "event moved",
    )
    assert last["actor_user_id"] is not None
    # the buyer sees it in their order
    mine = await http.get(f"/api/v1/orders/{order.id}", headers=order.buyer.headers)
    assert mine.json()["status"] == "refunded"
    assert [(r["id"], r["amount"], r["status"]) for r in mine.json()["refunds"]] == [
        (done["id"], order.total, "succeeded")
    ]
    # after the commit, the after-refund hook heard of it once
    (heard,) = PAYMENTS.after_refund[calls_before:]
    assert str(heard[1].refund_id) == done["id"] and heard[1].amount.amount == order.total
    assert heard[0].status == "refunded"

    listed = await http.get(refunds_url(shop, order.id), headers=shop.venue.admin)
    assert listed.status_code == 200
    assert listed.json()["refundable_amount"] == 0
    assert listed.json()["refunded_amount"] == order.total
    assert [r["id"] for r in listed.json()["items"]] == [done["id"]]

    again = await refund(http, shop, order.id)
    assert again.status_code == 409 and problem_code(again) == "order-not-refundable"


async def test_refunding_one_ticket_voids_just_that_ticket_and_the_door_refuses_it(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database)
    order = await paid_order(http, shop, standard=3)
    gone, *kept = order.tickets

    answer = await refund(http, shop, order.id, ticket_ids=[gone["id"]])

    assert answer.status_code == 201, answer.text
    assert answer.json()["amount"] == STANDARD_PRICE
    statuses = await ticket_statuses(database, order.id)
    assert statuses[gone["id"]] == "void"
    assert [statuses[t["id"]] for t in kept] == ["valid", "valid"]
    view = await order_view(http, shop, order.id)
    assert view["status"] == "partially_refunded"
    assert view["refunded_amount"] == STANDARD_PRICE

    door = await make_list(http, shop.venue)
    refused = await scan(http, shop.venue, door["id"], display_code(gone["code"]))
    assert refused.status_code == 409 and problem_code(refused) == "ticket-void"
    assert refused.json()["result"] == "void"
    admitted = await scan(http, shop.venue, door["id"], display_code(kept[0]["code"]))
    assert admitted.status_code == 201 and admitted.json()["result"] == "admitted"

    twice = await refund(http, shop, order.id, ticket_ids=[gone["id"]])
    assert twice.status_code == 409 and problem_code(twice) == "ticket-not-refundable"
    other = await paid_order(http, shop, standard=1)
    foreign = await refund(http, shop, order.id, ticket_ids=[other.tickets[0]["id"]])
    assert foreign.status_code == 422 and problem_code(foreign) == "ticket-not-in-order"

    # a second partial refund: still partially refunded; the checked-in ticket goes too
    second = await refund(http, shop, order.id, ticket_ids=[kept[0]["id"]])
    assert second.status_code == 201, second.text
    assert (await order_view(http, shop, order.id))["status"] == "partially_refunded"
    rest = await refund(http, shop, order.id)
    assert rest.status_code == 201 and rest.json()["amount"] == STANDARD_PRICE
    assert rest.json()["items"][0]["ticket_ids"] == [kept[1]["id"]]
    view = await order_view(http, shop, order.id)
    assert view["status"] == "refunded" and view["refunded_amount"] == order.total
    assert [(t["from_status"], t["to_status"]) for t in view["transitions"][-2:]] == [
        ("paid", "partially_refunded"),
        ("partially_refunded", "refunded"),
    ]


async def test_a_line_refund_voids_that_many_tickets_of_the_line(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database)
    order = await paid_order(http, shop, standard=2, vip=2)
    vip = next(line for line in order.body["lines"] if line["ticket_type_id"] == shop.vip)

    answer = await refund(http, shop, order.id, lines=[{"line_id": vip["id"], "quantity": 1}])

    assert answer.status_code == 201, answer.text
    (item,) = answer.json()["items"]
    assert item["line_id"] == vip["id"] and item["quantity"] == 1
    assert answer.json()["amount"] == vip["gross_amount"] // 2
    assert sorted((await ticket_statuses(database, order.id)).values()) == [
        "valid",
        "valid",
        "valid",
        "void",
    ]
    too_many = await refund(http, shop, order.id, lines=[{"line_id": vip["id"], "quantity": 2}])
    assert too_many.status_code == 422 and problem_code(too_many) == "quantity-exceeds-refundable"
    assert too_many.json()["refundable_quantity"] == 1
    unknown = await refund(
        http, shop, order.id, lines=[{"line_id": str(uuid.uuid4()), "quantity": 1}]
    )
    assert unknown.status_code == 422 and problem_code(unknown) == "line-not-in-order"


async def test_money_only_refunds_void_nothing_and_never_exceed_what_was_paid(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database)
    order = await paid_order(http, shop, standard=2)

    goodwill = await refund(http, shop, order.id, amount=1000, reason="late doors")

    assert goodwill.status_code == 201, goodwill.text
    assert goodwill.json()["amount"] == 1000 and goodwill.json()["items"] == []
    assert set((await ticket_statuses(database, order.id)).values()) == {"valid"}
    assert (await order_view(http, shop, order.id))["status"] == "partially_refunded"

    over = await refund(http, shop, order.id, amount=order.total)
    assert over.status_code == 422 and problem_code(over) == "amount-exceeds-refundable"
    assert over.json()["refundable"] == order.total - 1000
    assert len(await refunds_in_db(database, order.id)) == 1  # the refusal wrote nothing

    # the rest: every ticket voided, the items worth no more than the money left
    rest = await refund(http, shop, order.id)
    assert rest.status_code == 201, rest.text
    assert rest.json()["amount"] == order.total - 1000
    assert sum(item["amount"] for item in rest.json()["items"]) == order.total - 1000
    assert set((await ticket_statuses(database, order.id)).values()) == {"void"}
    view = await order_view(http, shop, order.id)
    assert view["status"] == "refunded" and view["refunded_amount"] == order.total


async def test_return_to_stock_puts_the_refunded_units_back_on_sale(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database, standard_capacity=2)
    order = await paid_order(http, shop, standard=2)
    first, second = order.tickets
    assert await available(http, shop, shop.standard) == 0

    kept_sold = await refund(http, shop, order.id, ticket_ids=[first["id"]])
    assert kept_sold.status_code == 201 and kept_sold.json()["return_to_stock"] is False
    assert await available(http, shop, shop.standard) == 0  # voided, but not for sale again

    back = await refund(http, shop, order.id, ticket_ids=[second["id"]], return_to_stock=True)
    assert back.status_code == 201, back.text
    assert await available(http, shop, shop.standard) == 1
    await take(http, shop, await Buyer.signed_in(http), shop.standard, 1)  # sold again


# -- refusals -----------------------------------------------------------------------------------


async def test_refunds_are_refused_for_unpaid_orders_bad_requests_and_strangers(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database)
    buyer = await Buyer.signed_in(http)
    await take(http, shop, buyer, shop.standard, 1)
    unpaid = (await checkout(http, shop, buyer, payment_provider="manual")).json()["order"]["id"]
    refused = await refund(http, shop, unpaid)
    assert refused.status_code == 409 and problem_code(refused) == "order-not-refundable"
    assert refused.json()["order_status"] == "pending_payment"

    order = await paid_order(http, shop, standard=1)
    both = await refund(http, shop, order.id, amount=100, ticket_ids=[order.tickets[0]["id"]])
    assert both.status_code == 422 and problem_code(both) == "validation-error"
    no_reason = await http.post(refunds_url(shop, order.id), json={}, headers=shop.venue.admin)
    assert no_reason.status_code == 422

    organizer = await staff(http, shop.venue, "organizer")  # sees orders, may not refund
    forbidden = await refund(http, shop, order.id, headers=organizer)
    assert forbidden.status_code == 403
    assert (await http.get(refunds_url(shop, order.id), headers=organizer)).status_code == 200

    other_org, other_admin = await new_organization(http)
    as_stranger = await refund(http, shop, order.id, headers=other_admin)
    assert as_stranger.status_code == 404
    through_own_org = await http.post(
        f"/api/v1/organizations/{other_org}/orders/{order.id}/refunds",
        json={"reason": "mine now"},
        headers=other_admin,
    )
    assert through_own_org.status_code == 404
    listed = await http.get(
        f"/api/v1/organizations/{other_org}/orders/{order.id}/refunds", headers=other_admin
    )
    assert listed.status_code == 404
    assert await refunds_in_db(database, order.id) == []
    assert (await order_view(http, shop, order.id))["status"] == "paid"


# -- concurrency and retries ---------------------------------------------------------------------


async def test_concurrent_full_refunds_refund_the_order_exactly_once(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database)
    order = await paid_order(http, shop, standard=2)

    answers = await asyncio.gather(
        *(refund(http, shop, order.id, reason=f"attempt {n}") for n in range(6))
    )

    codes = sorted(answer.status_code for answer in answers)
    assert codes == [201] + [409] * 5, [a.text for a in answers]
    assert {problem_code(a) for a in answers if a.status_code == 409} <= {
        "nothing-to-refund",
        "order-not-refundable",
    }
    (done,) = await refunds_in_db(database, order.id)
    assert done.status is RefundStatus.SUCCEEDED and done.amount == order.total
    view = await order_view(http, shop, order.id)
    assert view["refunded_amount"] == order.total and view["status"] == "refunded"
    assert [kind for kind, _ in await ledger_rows(database, order.id)] == ["charge", "refund"]


async def test_concurrent_partial_refunds_never_give_back_more_than_was_paid(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database)
    order = await paid_order(http, shop, standard=2)  # 5000
    share = 2000

    answers = await asyncio.gather(*(refund(http, shop, order.id, amount=share) for _ in range(4)))

    assert sorted(a.status_code for a in answers) == [201, 201, 422, 422]
    refunded = sum(r.amount for r in await refunds_in_db(database, order.id))
    assert refunded == 2 * share <= order.total
    assert (await order_view(http, shop, order.id))["refunded_amount"] == 2 * share


async def test_an_idempotency_key_replays_the_first_refund_instead_of_refunding_again(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database)
    order = await paid_order(http, shop, standard=2)
    key = f"refund-{uuid.uuid4()}"

    first = await refund(http, shop, order.id, key=key, amount=700)
    again = await refund(http, shop, order.id, key=key, amount=700)

    assert first.status_code == again.status_code == 201, again.text
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == first.json()
    assert len(await refunds_in_db(database, order.id)) == 1
    assert (await order_view(http, shop, order.id))["refunded_amount"] == 700

    other_body = await refund(http, shop, order.id, key=key, amount=800)
    assert other_body.status_code == 422 and problem_code(other_body) == "idempotency-key-reused"
    racing = await asyncio.gather(
        *(refund(http, shop, order.id, key=f"{key}-2", amount=300) for _ in range(3))
    )
    # a retry racing the first request answers the same refund, done or still with the
    # provider (202); it is never made twice
    assert sorted(a.status_code for a in racing)[0] == 201
    assert {a.status_code for a in racing} <= {201, 202}
    assert len({a.json()["id"] for a in racing}) == 1
    assert len(await refunds_in_db(database, order.id)) == 2
    assert (await order_view(http, shop, order.id))["refunded_amount"] == 1000
    later = await refund(http, shop, order.id, key=f"{key}-2", amount=300)
    assert later.status_code == 201 and later.json()["status"] == "succeeded"


# -- what the provider says ---------------------------------------------------------------------


async def _payment(database: Database, order_id: str) -> Payment:
    async with database.transaction() as session:
        return await session.scalar(select(Payment).where(Payment.order_id == uuid.UUID(order_id)))


async def test_a_refund_the_provider_refuses_is_kept_failed_and_changes_nothing(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database)
    order = await paid_order(http, shop, provider=TEST_PROVIDER, standard=2)
    PAYMENTS.provider.mode = "failed"

    answer = await refund(http, shop, order.id)

    assert answer.status_code == 502 and problem_code(answer) == "refund-failed"
    (failed,) = await refunds_in_db(database, order.id)
    assert failed.status is RefundStatus.FAILED and failed.failure_reason
    assert str(failed.id) == answer.json()["refund_id"]
    assert set((await ticket_statuses(database, order.id)).values()) == {"valid"}
    view = await order_view(http, shop, order.id)
    assert view["status"] == "paid" and view["refunded_amount"] == 0
    assert [kind for kind, _ in await ledger_rows(database, order.id)] == ["charge"]
    # a failed refund does not count: the whole amount can be refunded again
    PAYMENTS.provider.mode = "succeeded"
    retried = await refund(http, shop, order.id)
    assert retried.status_code == 201 and retried.json()["amount"] == order.total


async def test_a_pending_refund_is_settled_when_the_provider_reports_it(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database)
    order = await paid_order(http, shop, provider=TEST_PROVIDER, standard=2)
    PAYMENTS.provider.mode = "pending"

    answer = await refund(http, shop, order.id, ticket_ids=[order.tickets[0]["id"]])

    assert answer.status_code == 202, answer.text
    assert answer.json()["status"] == "pending" and answer.json()["reference"].startswith("re-")
    assert set((await ticket_statuses(database, order.id)).values()) == {"valid"}
    assert (await order_view(http, shop, order.id))["status"] == "paid"
    # pending counts: the rest can be refunded, not more
    over = await refund(http, shop, order.id, amount=order.total)
    assert over.status_code == 422 and over.json()["refundable"] == order.total - STANDARD_PRICE

    payment = await _payment(database, order.id)
    kernel = kernel_for(database)
    settled_per_report = []
    for total in (STANDARD_PRICE, STANDARD_PRICE, 0):  # reported, repeated, an older report
        async with database.transaction() as session:
            changed = await reconcile_provider_refunds(
                session, kernel, payment=payment, refunded_total=total, reference="ch_1"
            )
        settled_per_report.append([str(r.id) for r in changed])
    assert settled_per_report == [[answer.json()["id"]], [], []]
    statuses = await ticket_statuses(database, order.id)
    assert statuses[order.tickets[0]["id"]] == "void"
    (settled,) = await refunds_in_db(database, order.id)
    assert settled.status is RefundStatus.SUCCEEDED
    view = await order_view(http, shop, order.id)
    assert view["status"] == "partially_refunded" and view["refunded_amount"] == STANDARD_PRICE
    assert [t["actor"] for t in view["transitions"]][-1] == "provider"


async def test_a_refund_made_at_the_provider_is_recorded_once_whatever_the_report_order(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database)
    order = await paid_order(http, shop, provider=TEST_PROVIDER, standard=2)
    payment = await _payment(database, order.id)
    kernel = kernel_for(database)

    for total in (3000, 1000, 3000, order.total, 3000):  # late and repeated reports
        async with database.transaction() as session:
            await reconcile_provider_refunds(
                session, kernel, payment=payment, refunded_total=total, reference="ch_2"
            )

    made = await refunds_in_db(database, order.id)
    assert [(r.origin, r.amount, r.reference) for r in made] == [
        (RefundOrigin.PROVIDER, 3000, "ch_2:3000"),
        (RefundOrigin.PROVIDER, order.total - 3000, f"ch_2:{order.total}"),
    ]
    assert set((await ticket_statuses(database, order.id)).values()) == {"valid"}
    view = await order_view(http, shop, order.id)
    assert view["status"] == "refunded" and view["refunded_amount"] == order.total
    refunds_posted = [e for kind, e in await ledger_rows(database, order.id) if kind == "refund"]
    assert sum(-e[f"provider:{TEST_PROVIDER}"] for e in refunds_posted) == order.total


async def test_a_refund_left_pending_by_a_silent_provider_is_retried_with_the_same_key(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database)
    order = await paid_order(http, shop, provider=TEST_PROVIDER, standard=1)
    PAYMENTS.provider.raise_once_after_refunding = True  # refunds, then the answer is lost

    answer = await refund(http, shop, order.id)

    assert answer.status_code == 502 and problem_code(answer) == "refund-provider-error"
    (pending,) = await refunds_in_db(database, order.id)
    assert pending.status is RefundStatus.PENDING and pending.reference is None
    assert (await order_view(http, shop, order.id))["status"] == "paid"
    blocked = await refund(http, shop, order.id)
    assert blocked.status_code == 409 and problem_code(blocked) == "nothing-to-refund"

    report = await retry_stale(kernel_for(database), older_than=timedelta(0))

    assert report.settled >= 1
    keys = [r.idempotency_key for r in PAYMENTS.provider.requests if r.order_id == pending.order_id]
    assert keys == [f"refund:{pending.id}"] * 2
    (settled,) = await refunds_in_db(database, order.id)
    assert settled.status is RefundStatus.SUCCEEDED
    assert settled.reference == PAYMENTS.provider.refunds[keys[0]].reference
    view = await order_view(http, shop, order.id)
    assert view["status"] == "refunded" and view["refunded_amount"] == order.total


async def test_the_retry_command_settles_a_refund_a_crash_left_pending(
    http: httpx.AsyncClient, database: Database, database_url: str, tmp_path
) -> None:
    shop = await open_shop(http, database)
    order = await paid_order(http, shop, standard=2)
    # the process died after writing the pending refund, before asking the provider
    async with database.transaction() as session:
        row = await session.get(Order, uuid.UUID(order.id))
        prepared = await prepare(
            session,
            kernel_for(database),
            order=row,
            ask=RefundAsk(reason="crashed", ticket_ids=[uuid.UUID(order.tickets[0]["id"])]),
            origin=RefundOrigin.ORGANIZER,
            requested_by_user_id=None,
        )

    result = await asyncio.to_thread(
        run_cli,
        "orders",
        "refunds",
        "retry",
        "--older-than-minutes",
        "0",
        env={"DATABASE_URL": database_url, "TICKETING_DATA_DIR": str(tmp_path / "data")},
    )

    assert result.returncode == 0, result.stderr
    assert "settled" in result.stdout
    (done,) = await refunds_in_db(database, order.id)
    assert done.id == prepared.refund_id and done.status is RefundStatus.SUCCEEDED
    assert done.reference == f"manual-refund-{done.id}"
    assert (await ticket_statuses(database, order.id))[order.tickets[0]["id"]] == "void"
    view = await order_view(http, shop, order.id)
    assert view["status"] == "partially_refunded" and view["refunded_amount"] == STANDARD_PRICE
