"""Payments of placed orders: the provider registry and choice, the manual provider, an
organizer marking a bank transfer received (tickets issued once, however often and however
concurrently it is asked), free orders paid at once, and the after-payment hook."""

from __future__ import annotations

import asyncio
import io
import re
import uuid

import httpx
import pypdf
import pytest
from sqlalchemy import select

from builtin_plugins.orders.fulfilment import NO_PAYMENT_ID
from builtin_plugins.orders.models import Order, OrderStatus, Payment, PaymentStatus
from builtin_plugins.orders.payments import start_payment
from builtin_plugins.orders.providers import registry
from builtin_plugins.ticketing.models import Ticket
from kernel.app import create_app
from kernel.audit import AuditEntry
from kernel.contracts.payments import PaymentRequest, PaymentResult, RefundRequest, RefundResult
from kernel.db import Database
from kernel.markers import hookimpl
from kernel.plugin_manager import KernelPluginManager, create_plugin_manager
from kernel.plugin_metadata import PluginCategory, PluginMetadata
from kernel.problems import Problem
from tests.integration.conftest import Person, signed_in_user
from tests.integration.inventory.support import check_invariants, expire, hold, make_type, pools
from tests.integration.orders.payment_support import (
    Buyer,
    PlacedOrder,
    count,
    hold_status,
    kernel_of,
    order_tickets,
    place_order,
    signed_in_buyer,
    transitions,
)
from tests.integration.ticketing.support import Venue, open_venue, problem_code, staff
from tests.support.live_server import live_server
from tests.support.openapi_contract import checked_client


class FakeProvider:
    key = "test-pay"
    display_name = "Test pay"

    def __init__(self) -> None:
        self.requests: list[PaymentRequest] = []

    async def create_payment(self, request: PaymentRequest, ctx) -> PaymentResult:
        self.requests.append(request)
        return PaymentResult(
            provider=self.key,
            reference=f"tp-{uuid.uuid4().hex}",
            status="requires_action",
            client_data={"client_secret": "secret"},
        )

    async def refund(self, request: RefundRequest, ctx) -> RefundResult:
        return RefundResult(provider=self.key, reference="r", status="succeeded")


class ChoosingPlugin:
    """Test-only plugin: offers ``test-pay`` and always picks it."""

    METADATA = PluginMetadata(
        slug="payments-test-chooser",
        name="Test payment chooser",
        version="1.0",
        category=PluginCategory.PAYMENTS,
    )

    def __init__(self) -> None:
        self.provider = FakeProvider()
        self.asked: list[tuple[PaymentRequest, list[str]]] = []

    @hookimpl
    def ticketing_payment_providers(self):
        return [self.provider]

    @hookimpl
    async def ticketing_payment_choose_provider(self, request, providers):
        self.asked.append((request, sorted(providers)))
        return self.provider.key


class PaymentRecorder:
    """Test-only plugin: remembers every ``ticketing_checkout_after_payment`` call."""

    METADATA = PluginMetadata(
        slug="payments-test-recorder",
        name="After-payment recorder",
        version="1.0",
        category=PluginCategory.TICKETING,
    )

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    @hookimpl
    async def ticketing_checkout_after_payment(self, order, payment):
        self.calls.append((order, payment))


class FailingRecorder:
    """A broken after-payment plugin must not keep the others from running."""

    METADATA = PluginMetadata(
        slug="payments-test-failing",
        name="Failing after-payment plugin",
        version="1.0",
        category=PluginCategory.TICKETING,
    )

    @hookimpl
    def ticketing_checkout_after_payment(self, order, payment):
        raise RuntimeError("boom")


async def new_buyer(api: httpx.AsyncClient) -> Buyer:
    person = Person.new("buyer")
    return await signed_in_buyer(api, await signed_in_user(api, person), person)


def mark_paid_url(venue: Venue, order_id: uuid.UUID) -> str:
    return f"{venue.event_base}/orders/{order_id}/mark-paid"


async def manual_order(
    database: Database,
    plugins: KernelPluginManager,
    venue: Venue,
    buyer: Buyer,
    **fields,
) -> PlacedOrder:
    """A placed order whose payment was started with the manual provider."""
    placed = await place_order(database, venue, buyer.person, buyer_user_id=buyer.user_id, **fields)
    async with database.transaction() as session:
        order = await session.get(Order, placed.id)
        await start_payment(session, kernel_of(plugins, database), order, provider="manual")
    return placed


async def audited(database: Database, order_id: uuid.UUID) -> int:
    return await count(database, AuditEntry, action="order.marked_paid", target_id=str(order_id))


def counters(found: dict[str, dict]) -> dict[str, tuple[int, int]]:
    return {name: (pool["held"], pool["sold"]) for name, pool in found.items()}


# -- providers ---------------------------------------------------------------------------


def test_the_manual_provider_is_a_builtin_plugin(plugins: KernelPluginManager) -> None:
    record = plugins.record("payments-manual")
    assert record is not None and record.metadata.category is PluginCategory.PAYMENTS
    assert not record.metadata.required
    manual = registry(plugins).providers["manual"]
    assert manual.display_name == "Bank transfer / pay at the door"
    assert registry(plugins).providers is registry(plugins).providers  # built once


async def test_a_manual_payment_is_pending_with_transfer_instructions(
    api: httpx.AsyncClient, database: Database, plugins: KernelPluginManager
) -> None:
    venue = await open_venue(api, database)
    placed = await place_order(database, venue, Person.new("buyer"), quantity=2)
    async with database.transaction() as session:
        order = await session.get(Order, placed.id)
        payment = await start_payment(
            session, kernel_of(plugins, database), order, provider="manual"
        )
        assert payment is not None
    async with database.transaction() as session:
        stored = await session.get(Payment, payment.id)
        order = await session.get(Order, placed.id)
    assert stored.status is PaymentStatus.PENDING
    assert stored.provider == "manual" and stored.amount == 5000 and stored.currency == "EUR"
    assert stored.reference.startswith("manual-")
    assert stored.client_data["reference"] == stored.reference
    assert "reference" in stored.client_data["instructions"]
    assert order.payment_provider == "manual"
    assert order.status is OrderStatus.PENDING_PAYMENT


async def test_an_unknown_provider_is_refused_with_the_known_ones(
    api: httpx.AsyncClient, database: Database, plugins: KernelPluginManager
) -> None:
    venue = await open_venue(api, database)
    placed = await place_order(database, venue, Person.new("buyer"))
    with pytest.raises(Problem) as refused:
        async with database.transaction() as session:
            order = await session.get(Order, placed.id)
            await start_payment(session, kernel_of(plugins, database), order, provider="bitcoin")
    assert refused.value.status == 422 and refused.value.code == "unknown-provider"
    assert "manual" in refused.value.extensions["providers"]
    assert await count(database, Payment, order_id=placed.id) == 0


async def test_no_provider_installed_is_refused(api: httpx.AsyncClient, database: Database) -> None:
    venue = await open_venue(api, database)
    placed = await place_order(database, venue, Person.new("buyer"))
    without = create_plugin_manager(disabled=["payments-manual", "payments-stripe"])
    with pytest.raises(Problem) as refused:
        async with database.transaction() as session:
            order = await session.get(Order, placed.id)
            await start_payment(session, kernel_of(without, database), order, provider=None)
    assert refused.value.status == 422 and refused.value.code == "no-payment-provider"


async def test_a_plugin_choosing_the_provider_wins_over_the_default(
    api: httpx.AsyncClient, database: Database, plugins: KernelPluginManager
) -> None:
    venue = await open_venue(api, database)
    chooser = ChoosingPlugin()
    manager = create_plugin_manager(extra_plugins=[chooser])
    assert sorted(registry(manager).providers) == ["manual", "stripe", "test-pay"]

    default = await place_order(database, venue, Person.new("buyer"), quantity=1)
    async with database.transaction() as session:
        order = await session.get(Order, default.id)
        payment = await start_payment(session, kernel_of(plugins, database), order, provider=None)
    assert payment.provider == "manual"  # no chooser: the first provider by key

    chosen = await place_order(database, venue, Person.new("buyer"), quantity=1)
    async with database.transaction() as session:
        order = await session.get(Order, chosen.id)
        payment = await start_payment(session, kernel_of(manager, database), order, provider=None)
    assert payment.provider == "test-pay" and payment.status is PaymentStatus.REQUIRES_ACTION
    assert payment.client_data == {"client_secret": "secret"}
    (request,) = chooser.provider.requests
    assert chooser.asked == [(request, ["manual", "stripe", "test-pay"])]
    assert request.order_id == chosen.id and request.amount.amount == 2500
    assert request.idempotency_key == f"order:{chosen.id}:payment:{payment.id}"


# -- marking paid --------------------------------------------------------------------------


async def test_an_organizer_marks_a_transfer_received(
    api: httpx.AsyncClient, database: Database, plugins: KernelPluginManager
) -> None:
    venue = await open_venue(api, database)
    buyer = await new_buyer(api)
    friend = Person.new("friend")
    placed = await manual_order(
        database,
        plugins,
        venue,
        buyer,
        quantity=3,
        attendees=[
            {"name": friend.name, "email": friend.email},
            {"name": buyer.person.name, "email": buyer.person.email.upper()},
        ],
    )
    before = counters(await pools(database, venue.event_id))
    admin = (await api.get("/api/v1/me", headers=venue.admin)).json()

    answer = await api.post(
        mark_paid_url(venue, placed.id),
        json={"reason": "transfer arrived"},
        headers={**venue.admin, "Idempotency-Key": "mark-1"},
    )
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert result["order_id"] == str(placed.id) and result["status"] == "paid"
    assert len(result["tickets"]) == 3

    tickets = await order_tickets(database, placed.id)
    assert [str(t.id) for t in tickets] == [t["id"] for t in result["tickets"]]
    assert [t.holder_email for t in tickets] == [
        friend.email.lower(),
        buyer.person.email.lower(),
        buyer.person.email.lower(),  # no attendee named: the buyer
    ]
    assert [t.holder_user_id for t in tickets] == [None, buyer.user_id, buyer.user_id]
    assert await hold_status(database, placed.hold_id) == "converted"
    after = counters(await pools(database, venue.event_id))
    for name, (held, sold) in before.items():
        assert after[name] == (held - 3, sold + 3)
    await check_invariants(database, venue.event_id)

    async with database.transaction() as session:
        order = await session.get(Order, placed.id)
        (payment,) = await session.scalars(select(Payment).where(Payment.order_id == placed.id))
    assert order.status is OrderStatus.PAID and order.paid_at is not None
    assert payment.status == PaymentStatus.SUCCEEDED and payment.succeeded_at is not None
    paid = [t for t in await transitions(database, placed.id) if t.to_status is OrderStatus.PAID]
    assert len(paid) == 1
    assert paid[0].actor == "organizer" and str(paid[0].actor_user_id) == admin["id"]
    assert paid[0].reason == "transfer arrived"

    mine = await api.get("/api/v1/me/tickets", headers=buyer.headers)
    assert mine.status_code == 200, mine.text
    assert {t["id"] for t in mine.json()["items"]} == {str(t.id) for t in tickets[1:]}
    assert await audited(database, placed.id) == 1

    # the same key replays the first answer; without a key the order's tickets come back
    replay = await api.post(
        mark_paid_url(venue, placed.id),
        json={"reason": "transfer arrived"},
        headers={**venue.admin, "Idempotency-Key": "mark-1"},
    )
    assert replay.status_code == 200 and replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == result
    again = await api.post(mark_paid_url(venue, placed.id), headers=venue.admin)
    assert again.status_code == 200, again.text
    assert "Idempotent-Replayed" not in again.headers
    assert again.json()["tickets"] == result["tickets"]
    assert await count(database, Ticket, order_id=placed.id) == 3
    assert counters(await pools(database, venue.event_id)) == after
    assert await audited(database, placed.id) == 1
    assert [t.id for t in await transitions(database, placed.id) if t.to_status == "paid"] == [
        paid[0].id
    ]


async def test_marked_paid_tickets_show_their_codes_as_printed_and_the_pdf_the_order_code(
    api: httpx.AsyncClient, database: Database, plugins: KernelPluginManager
) -> None:
    venue = await open_venue(api, database)
    buyer = await new_buyer(api)
    placed = await manual_order(database, plugins, venue, buyer, quantity=2)

    marked = await api.post(mark_paid_url(venue, placed.id), headers=venue.admin)
    assert marked.status_code == 200, marked.text
    mine = await api.get("/api/v1/me/tickets", headers=buyer.headers)
    shown = {t["id"]: t["code"] for t in mine.json()["items"]}
    assert {t["id"]: t["code"] for t in marked.json()["tickets"]} == shown
    assert all(re.fullmatch(r"[0-9A-Z]{4}(-[0-9A-Z]{4}){3}", code) for code in shown.values())

    async with database.transaction() as session:
        code = (await session.get(Order, placed.id)).code
    pdf = await api.get(f"/api/v1/me/orders/{placed.id}/tickets.pdf", headers=buyer.headers)
    assert pdf.status_code == 200
    assert code in pdf.headers["content-disposition"]
    pages = [page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf.content)).pages]
    assert len(pages) == 2
    for text in pages:
        assert code in text
        assert str(placed.id)[:8].upper() not in text


async def test_only_members_who_manage_orders_mark_them_paid(
    api: httpx.AsyncClient, database: Database, plugins: KernelPluginManager
) -> None:
    venue = await open_venue(api, database)
    placed = await manual_order(database, plugins, venue, await new_buyer(api))
    member = await staff(api, venue, role="user")

    refused = await api.post(mark_paid_url(venue, placed.id), headers=member)
    assert refused.status_code == 403 and problem_code(refused) == "forbidden"
    stranger = await signed_in_user(api, Person.new("stranger"))
    hidden = await api.post(mark_paid_url(venue, placed.id), headers=stranger)
    assert hidden.status_code == 404
    organizer = await staff(api, venue, role="organizer")
    assert (await api.post(mark_paid_url(venue, placed.id), headers=organizer)).status_code == 200


async def test_only_manual_payments_are_marked_paid_by_hand(
    api: httpx.AsyncClient, database: Database
) -> None:
    venue = await open_venue(api, database)
    card = await place_order(database, venue, Person.new("buyer"), payment_provider="stripe")
    refused = await api.post(mark_paid_url(venue, card.id), headers=venue.admin)
    assert refused.status_code == 409 and problem_code(refused) == "not-manual"
    missing = await api.post(mark_paid_url(venue, uuid.uuid4()), headers=venue.admin)
    assert missing.status_code == 404
    assert await count(database, Ticket, order_id=card.id) == 0


async def test_a_cancelled_order_is_not_paid(
    api: httpx.AsyncClient, database: Database, plugins: KernelPluginManager
) -> None:
    venue = await open_venue(api, database)
    placed = await manual_order(database, plugins, venue, await new_buyer(api))
    async with database.transaction() as session:
        (await session.get(Order, placed.id)).status = OrderStatus.CANCELLED
    refused = await api.post(mark_paid_url(venue, placed.id), headers=venue.admin)
    assert refused.status_code == 409 and problem_code(refused) == "order-not-payable"
    assert await hold_status(database, placed.hold_id) == "active"


async def test_concurrent_mark_paid_issues_one_set_of_tickets(
    api: httpx.AsyncClient, database: Database, plugins: KernelPluginManager
) -> None:
    venue = await open_venue(api, database)
    placed = await manual_order(database, plugins, venue, await new_buyer(api), quantity=4)
    before = counters(await pools(database, venue.event_id))

    answers = await asyncio.gather(
        *(api.post(mark_paid_url(venue, placed.id), headers=venue.admin) for _ in range(5))
    )
    assert [a.status_code for a in answers] == [200] * 5, [a.text for a in answers]
    issued = {tuple(t["id"] for t in a.json()["tickets"]) for a in answers}
    assert len(issued) == 1 and len(next(iter(issued))) == 4
    assert await count(database, Ticket, order_id=placed.id) == 4
    after = counters(await pools(database, venue.event_id))
    for name, (held, sold) in before.items():
        assert after[name] == (held - 4, sold + 4)
    await check_invariants(database, venue.event_id)
    paid = [t for t in await transitions(database, placed.id) if t.to_status is OrderStatus.PAID]
    assert len(paid) == 1


async def test_an_expired_hold_still_converts_while_its_units_are_free(
    api: httpx.AsyncClient, database: Database, plugins: KernelPluginManager
) -> None:
    venue = await open_venue(api, database)
    placed = await manual_order(database, plugins, venue, await new_buyer(api), quantity=1)
    await expire(database, [placed.hold_id])
    answer = await api.post(mark_paid_url(venue, placed.id), headers=venue.admin)
    assert answer.status_code == 200, answer.text
    assert await hold_status(database, placed.hold_id) == "converted"
    await check_invariants(database, venue.event_id)


async def test_a_late_payment_for_units_sold_to_someone_else_changes_nothing(
    api: httpx.AsyncClient, database: Database, plugins: KernelPluginManager
) -> None:
    venue = await open_venue(api, database, capacity=2)
    placed = await manual_order(database, plugins, venue, await new_buyer(api), quantity=2)
    await expire(database, [placed.hold_id])
    await place_order(database, venue, Person.new("later"), quantity=2)  # takes the units
    refused = await api.post(mark_paid_url(venue, placed.id), headers=venue.admin)
    assert refused.status_code == 409 and problem_code(refused) == "sold-out"
    async with database.transaction() as session:
        assert (await session.get(Order, placed.id)).status is OrderStatus.PENDING_PAYMENT
    assert await count(database, Ticket, order_id=placed.id) == 0
    await check_invariants(database, venue.event_id)


# -- free orders, after-payment hook --------------------------------------------------------


async def test_a_free_order_is_paid_at_once(
    api: httpx.AsyncClient, database: Database, plugins: KernelPluginManager
) -> None:
    venue = await open_venue(api, database)
    buyer = await new_buyer(api)
    placed = await place_order(
        database, venue, buyer.person, quantity=2, unit_price=0, buyer_user_id=buyer.user_id
    )
    async with database.transaction() as session:
        order = await session.get(Order, placed.id)
        payment = await start_payment(session, kernel_of(plugins, database), order, provider=None)
    assert payment is None
    async with database.transaction() as session:
        order = await session.get(Order, placed.id)
    assert order.status is OrderStatus.PAID and order.payment_provider is None
    assert await count(database, Payment, order_id=placed.id) == 0
    assert await hold_status(database, placed.hold_id) == "converted"
    tickets = await order_tickets(database, placed.id)
    assert [t.holder_user_id for t in tickets] == [buyer.user_id, buyer.user_id]
    (paid,) = [t for t in await transitions(database, placed.id) if t.to_status is OrderStatus.PAID]
    assert paid.actor == "system" and paid.reason == "free order"
    mine = await api.get("/api/v1/me/tickets", headers=buyer.headers)
    assert {t["id"] for t in mine.json()["items"]} == {str(t.id) for t in tickets}


async def test_the_after_payment_hook_hears_of_a_payment_once(
    identity_settings, database: Database, database_url: str
) -> None:
    recorder = PaymentRecorder()
    manager = create_plugin_manager(extra_plugins=[FailingRecorder(), recorder])
    with live_server(create_app(identity_settings, plugins=manager)) as url:
        async with checked_client(url, timeout=30) as api:
            venue = await open_venue(api, database)
            placed = await manual_order(database, manager, venue, await new_buyer(api))
            for _ in range(2):
                answer = await api.post(mark_paid_url(venue, placed.id), headers=venue.admin)
                assert answer.status_code == 200, answer.text
            for _ in range(100):
                if recorder.calls:
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.3)  # a second call would have come by now
    (call,) = recorder.calls
    order, payment = call
    assert order.order_id == placed.id and order.status == "paid"
    assert order.total.amount == 5000 and order.lines[0].quantity == 2
    assert payment.provider == "manual" and payment.status == "succeeded"
    assert payment.reference.startswith("manual-") and payment.payment_id != NO_PAYMENT_ID


# -- through checkout ----------------------------------------------------------------------


async def test_a_checkout_paid_by_transfer_ends_in_the_buyers_tickets(
    api: httpx.AsyncClient, database: Database
) -> None:
    venue = await open_venue(api, database)
    buyer = await new_buyer(api)
    held = await hold(api, venue.event_id, venue.ticket_type_id, quantity=2, headers=buyer.headers)
    assert held.status_code == 201, held.text

    placed = await api.post(
        f"/api/v1/events/{venue.event_id}/checkout",
        json={"payment_provider": "manual"},
        headers=buyer.headers,
    )
    assert placed.status_code == 201, placed.text
    payment = placed.json()["payment"]
    order_id = uuid.UUID(placed.json()["order"]["id"])
    assert payment["provider"] == "manual" and payment["status"] == "pending"
    assert await count(database, Ticket, order_id=order_id) == 0

    answer = await api.post(mark_paid_url(venue, order_id), headers=venue.admin)
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "paid"
    mine = await api.get("/api/v1/me/tickets", headers=buyer.headers)
    assert sorted(t["id"] for t in mine.json()["items"]) == sorted(
        t["id"] for t in answer.json()["tickets"]
    )
    await check_invariants(database, venue.event_id)


async def test_a_free_checkout_is_paid_on_the_spot(
    api: httpx.AsyncClient, database: Database
) -> None:
    venue = await open_venue(api, database)
    free = await make_type(
        api, venue.organization_id, venue.admin, venue.event_id, price_amount=0, capacity=10
    )
    buyer = await new_buyer(api)
    held = await hold(api, venue.event_id, free["id"], quantity=1, headers=buyer.headers)
    assert held.status_code == 201, held.text

    placed = await api.post(
        f"/api/v1/events/{venue.event_id}/checkout", json={}, headers=buyer.headers
    )
    assert placed.status_code == 201, placed.text
    assert placed.json()["payment"] is None
    assert placed.json()["order"]["status"] == "paid"
    order_id = uuid.UUID(placed.json()["order"]["id"])
    (ticket,) = await order_tickets(database, order_id)
    assert ticket.holder_user_id == buyer.user_id
    mine = await api.get("/api/v1/me/tickets", headers=buyer.headers)
    assert [t["id"] for t in mine.json()["items"]] == [str(ticket.id)]
