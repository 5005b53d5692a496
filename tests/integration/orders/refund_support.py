"""Helpers of the refund, ledger and event-cancellation tests: one app per module with a
test payment provider (it settles payments at once and refunds as it is told) and a
recorder of ``ticketing_checkout_after_refund``; paid orders; refund requests.

Test modules import the fixtures ``shop_url`` (here) and ``http`` (from ``support``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text

from builtin_plugins.orders.models import LedgerEntry, LedgerTransaction, Refund
from builtin_plugins.ticketing.models import Ticket
from kernel.contracts.payments import PaymentRequest, PaymentResult, RefundRequest, RefundResult
from kernel.db import Database
from kernel.markers import hookimpl
from kernel.plugin_manager import create_plugin_manager
from kernel.plugin_metadata import PluginCategory, PluginMetadata
from tests.integration.conftest import module_app
from tests.integration.orders.support import Buyer, Shop, checkout, take
from tests.support.kernels import bare_kernel

TEST_PROVIDER = "test-refunds"


class TestProvider:
    """Settles payments at once; refunds as ``mode`` says: ``succeeded``, ``pending``,
    ``failed``, or ``raise`` (no answer). Like a real provider it remembers idempotency
    keys: asking again with a key answers the first refund."""

    __test__ = False  # not a pytest class
    key = TEST_PROVIDER
    display_name = "Test refunds"

    def __init__(self) -> None:
        self.mode = "succeeded"
        self.raise_once_after_refunding = False  # refund, then fail to answer (a timeout)
        self.refunds: dict[str, RefundResult] = {}  # idempotency key -> first answer
        self.requests: list[RefundRequest] = []

    async def create_payment(self, request: PaymentRequest, ctx) -> PaymentResult:
        return PaymentResult(
            provider=self.key, reference=f"pay-{uuid.uuid4().hex}", status="succeeded"
        )

    async def refund(self, request: RefundRequest, ctx) -> RefundResult:
        self.requests.append(request)
        if self.mode == "raise":
            raise ConnectionError("the provider timed out")
        known = self.refunds.get(request.idempotency_key)
        if known is None:
            known = self.refunds[request.idempotency_key] = RefundResult(
                provider=self.key, reference=f"re-{uuid.uuid4().hex}", status=self.mode
            )
            if self.raise_once_after_refunding:
                self.raise_once_after_refunding = False
                raise ConnectionError("refunded, but the answer was lost")
        return known


class TestPayments:
    """The test provider, and every ``ticketing_checkout_after_refund`` call."""

    __test__ = False
    METADATA = PluginMetadata(
        slug="orders-test-refunds",
        name="Refund test provider",
        version="1.0.0",
        category=PluginCategory.PAYMENTS,
    )

    def __init__(self) -> None:
        self.provider = TestProvider()
        self.after_refund: list[tuple[Any, Any]] = []

    @hookimpl
    def ticketing_payment_providers(self):
        return [self.provider]

    @hookimpl
    async def ticketing_checkout_after_refund(self, order, refund):
        self.after_refund.append((order, refund))


PAYMENTS = TestPayments()
PLUGINS = create_plugin_manager(extra_plugins=[PAYMENTS])


@pytest.fixture(scope="module", name="shop_url")
def shop_url_fixture(tmp_path_factory, database_url: str, redis_url: str) -> Iterator[str]:
    """The real app for the whole module, with :data:`PAYMENTS` registered."""
    with module_app(tmp_path_factory, database_url, redis_url, "refunds", plugins=PLUGINS) as url:
        yield url


def kernel_for(database: Database) -> Any:
    """What the refund functions use of the kernel, on the test's own database pool."""
    return bare_kernel(PLUGINS, database)


@dataclass
class PaidOrder:
    id: str
    buyer: Buyer
    body: dict  # the organizer's view once paid
    tickets: list[dict] = field(default_factory=list)  # id, code

    @property
    def total(self) -> int:
        return self.body["total_amount"]

    def line(self, position: int = 1) -> dict:
        return self.body["lines"][position - 1]


async def paid_order(
    http: httpx.AsyncClient,
    shop: Shop,
    buyer: Buyer | None = None,
    *,
    provider: str = "manual",
    **quantities: int,
) -> PaidOrder:
    """Hold ``standard=``/``vip=`` quantities, check out with ``provider`` and get paid:
    the manual provider's order is marked paid by the organizer, the test provider's is
    paid at checkout."""
    buyer = buyer or await Buyer.signed_in(http)
    for name, quantity in quantities.items():
        await take(http, shop, buyer, getattr(shop, name), quantity)
    placed = await checkout(http, shop, buyer, payment_provider=provider)
    assert placed.status_code == 201, placed.text
    order_id = placed.json()["order"]["id"]
    tickets: list[dict] = []
    if provider == "manual":
        marked = await http.post(
            f"{shop.orders}/{order_id}/mark-paid",
            json={"reason": "transfer received"},
            headers=shop.venue.admin,
        )
        assert marked.status_code == 200, marked.text
        tickets = marked.json()["tickets"]
    view = await http.get(f"{shop.orders}/{order_id}", headers=shop.venue.admin)
    assert view.status_code == 200 and view.json()["status"] == "paid", view.text
    if not tickets:
        listed = await http.get(
            f"{shop.venue.event_base}/tickets",
            params={"order_id": order_id, "limit": 200},
            headers=shop.venue.admin,
        )
        assert listed.status_code == 200, listed.text
        tickets = [{"id": t["id"], "code": t["code"]} for t in listed.json()["items"]]
    return PaidOrder(order_id, buyer, view.json(), tickets)


def refunds_url(shop: Shop, order_id: str) -> str:
    return f"{shop.venue.base}/orders/{order_id}/refunds"


async def refund(
    http: httpx.AsyncClient,
    shop: Shop,
    order_id: str,
    *,
    headers: dict[str, str] | None = None,
    key: str | None = None,
    **body: Any,
) -> httpx.Response:
    body.setdefault("reason", "customer asked")
    sent = dict(headers or shop.venue.admin)
    if key is not None:
        sent["Idempotency-Key"] = key
    return await http.post(refunds_url(shop, order_id), json=body, headers=sent)


async def order_view(http: httpx.AsyncClient, shop: Shop, order_id: str) -> dict:
    answer = await http.get(f"{shop.orders}/{order_id}", headers=shop.venue.admin)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def ticket_statuses(database: Database, order_id: str) -> dict[str, str]:
    """Status of each of the order's tickets, by id."""
    async with database.transaction() as session:
        tickets = await session.scalars(
            select(Ticket).where(Ticket.order_id == uuid.UUID(order_id))
        )
        return {str(t.id): t.status.value for t in tickets}


async def refunds_in_db(database: Database, order_id: str) -> list[Refund]:
    async with database.transaction() as session:
        return list(
            await session.scalars(
                select(Refund)
                .where(Refund.order_id == uuid.UUID(order_id))
                .order_by(Refund.created_at, Refund.id)
            )
        )


async def ledger_rows(database: Database, order_id: str) -> list[tuple[str, dict[str, int]]]:
    """(kind, {account: amount}) of each of the order's ledger transactions, oldest first."""
    async with database.transaction() as session:
        transactions = list(
            await session.scalars(
                select(LedgerTransaction)
                .where(LedgerTransaction.order_id == uuid.UUID(order_id))
                .order_by(LedgerTransaction.occurred_at, LedgerTransaction.kind)
            )
        )
        result = []
        for t in transactions:
            entries = await session.scalars(
                select(LedgerEntry).where(LedgerEntry.transaction_id == t.id)
            )
            result.append((t.kind.value, {e.account: e.amount for e in entries}))
        return result


async def available(http: httpx.AsyncClient, shop: Shop, ticket_type_id: str) -> int:
    answer = await http.get(f"/api/v1/events/{shop.event_id}/availability")
    assert answer.status_code == 200, answer.text
    (found,) = [t for t in answer.json()["ticket_types"] if t["id"] == ticket_type_id]
    return found["available"]


async def count_sql(database: Database, sql: str, **params: Any) -> int:
    async with database.transaction() as session:
        return int(await session.scalar(text(sql), params))
