"""A payment provider written as a third-party plugin settles its payments through the
hooks alone: it imports nothing from the orders or ticketing plugins, finds its payment
with ``ticketing_provider_payment`` and reports the money with
``ticketing_payment_settled``; the order becomes paid and its tickets are issued, once
however often the provider reports it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from fastapi import APIRouter
from pydantic import BaseModel

from kernel.auth import public
from kernel.contracts import (
    Money,
    PaymentRequest,
    PaymentResult,
    PaymentSettled,
    RefundRequest,
    RefundResult,
)
from kernel.db import Database
from kernel.dependencies import KernelDep, SessionDep
from kernel.markers import hookimpl
from kernel.plugin_manager import create_plugin_manager
from kernel.plugin_metadata import PluginCategory, PluginMetadata
from kernel.problems import NotFound
from tests.integration.conftest import module_app
from tests.integration.orders.support import Buyer, checkout, open_shop, take, token
from tests.support.openapi_contract import checked_client

KEY = "acme-pay"


class AcmePay:
    """Takes payments at ACME; the buyer pays there and ACME notifies the plugin."""

    key = KEY
    display_name = "ACME Pay"

    async def create_payment(self, request: PaymentRequest, ctx) -> PaymentResult:
        reference = f"acme-{uuid.uuid4().hex}"
        return PaymentResult(
            provider=KEY,
            reference=reference,
            status="requires_action",
            client_data={"pay_at": f"https://pay.acme.test/{reference}"},
        )

    async def refund(self, request: RefundRequest, ctx) -> RefundResult:
        return RefundResult(provider=KEY, reference=f"r-{uuid.uuid4().hex}", status="succeeded")


class Notification(BaseModel):
    reference: str
    amount: int
    currency: str


class Received(BaseModel):
    outcome: str
    order_status: str


router = APIRouter(prefix="/acme-pay", tags=["payments"])


@router.post("/notify", dependencies=[public()], responses={404: {"description": "Unknown"}})
async def notify(body: Notification, kernel: KernelDep, session: SessionDep) -> Received:
    """ACME's notification that a payment was made (a real one would be signed)."""
    payment = await kernel.hooks.call(
        "ticketing_provider_payment",
        organization_id=None,
        provider=KEY,
        reference=body.reference,
        session=session,
    )
    if payment is None:
        raise NotFound("No such payment.")
    outcome = await kernel.hooks.call(
        "ticketing_payment_settled",
        organization_id=payment.organization_id,
        report=PaymentSettled(KEY, body.reference, Money(body.amount, body.currency)),
        session=session,
    )
    return Received(outcome=outcome.outcome, order_status=outcome.order_status)


class AcmePayPlugin:
    METADATA = PluginMetadata(
        slug="acme-pay",
        name="ACME Pay",
        version="1.0.0",
        category=PluginCategory.PAYMENTS,
    )

    @hookimpl
    def ticketing_payment_providers(self):
        return [AcmePay()]

    @hookimpl
    def ticketing_api_routers(self):
        return [router]


@pytest.fixture(scope="module", name="shop_url")
def shop_url_fixture(tmp_path_factory, database_url: str, redis_url: str) -> Iterator[str]:
    plugins = create_plugin_manager(extra_plugins=[AcmePayPlugin()])
    with module_app(tmp_path_factory, database_url, redis_url, "acme", plugins=plugins) as url:
        yield url


@pytest.fixture(scope="module", name="http")
async def http_fixture(shop_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with checked_client(shop_url, timeout=60) as client:
        yield client


async def test_a_provider_plugin_settles_a_payment_through_the_hooks(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database)
    buyer = await Buyer.signed_in(http)
    await take(http, shop, buyer, shop.standard, quantity=2)
    placed = await checkout(http, shop, buyer, payment_provider=KEY)
    assert placed.status_code == 201, placed.text
    order = placed.json()["order"]
    payment = placed.json()["payment"]
    assert payment["provider"] == KEY and payment["status"] == "requires_action"
    reference = payment["client_data"]["pay_at"].rsplit("/", 1)[1]

    mine = await http.get(f"/api/v1/orders/{order['id']}", headers=token(placed.json()))
    assert mine.json()["status"] == "pending_payment" and mine.json()["tickets"] == []

    paid = {"reference": reference, "amount": order["total_amount"], "currency": "EUR"}
    answer = await http.post("/api/v1/acme-pay/notify", json=paid)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"outcome": "paid", "order_status": "paid"}

    mine = await http.get(f"/api/v1/orders/{order['id']}", headers=token(placed.json()))
    assert mine.json()["status"] == "paid"
    tickets = mine.json()["tickets"]
    assert len(tickets) == 2 and {t["status"] for t in tickets} == {"valid"}
    held = await http.get("/api/v1/me/tickets", headers=buyer.headers)
    assert sorted(t["id"] for t in held.json()["items"]) == sorted(t["id"] for t in tickets)

    again = await http.post("/api/v1/acme-pay/notify", json=paid)
    assert again.json() == {"outcome": "unchanged", "order_status": "paid"}
    mine = await http.get(f"/api/v1/orders/{order['id']}", headers=token(placed.json()))
    assert [t["id"] for t in mine.json()["tickets"]] == [t["id"] for t in tickets]


async def test_a_report_of_the_wrong_amount_pays_nothing(
    http: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(http, database)
    buyer = await Buyer.signed_in(http)
    await take(http, shop, buyer, shop.standard, quantity=1)
    placed = (await checkout(http, shop, buyer, payment_provider=KEY)).json()
    reference = placed["payment"]["client_data"]["pay_at"].rsplit("/", 1)[1]

    short = {"reference": reference, "amount": 1, "currency": "EUR"}
    answer = await http.post("/api/v1/acme-pay/notify", json=short)
    assert answer.json() == {"outcome": "amount_differs", "order_status": "pending_payment"}
    mine = await http.get(f"/api/v1/orders/{placed['order']['id']}", headers=token(placed))
    assert mine.json()["status"] == "pending_payment" and mine.json()["tickets"] == []

    unknown = {"reference": "acme-nothing", "amount": 1, "currency": "EUR"}
    assert (await http.post("/api/v1/acme-pay/notify", json=unknown)).status_code == 404
