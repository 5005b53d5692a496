"""Helpers of the Stripe tests: an order checked out with Stripe, webhook deliveries,
an organization's own keys or connected account, and the rows they leave."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import func, select

from builtin_plugins.orders.models import Order, Payment
from builtin_plugins.ticketing.models import Ticket
from kernel.db import Database
from tests.integration.orders.support import Buyer, Shop, checkout, open_shop, take
from tests.integration.payments_stripe.conftest import WEBHOOK_SECRET
from tests.support.stripe_server import StripeStandIn, signed_event

WEBHOOK = "/api/v1/payments/stripe/webhook"


def settings_url(organization_id: str | uuid.UUID) -> str:
    return f"/api/v1/organizations/{organization_id}/payments/stripe"


def organization_webhook(organization_id: str | uuid.UUID) -> str:
    return f"{WEBHOOK}/{organization_id}"


def own_keys(mode: str = "test") -> dict[str, str]:
    """A well-formed set of an organization's own keys (each one new)."""
    return {
        "kind": "own",
        "secret_key": f"sk_{mode}_{secrets.token_hex(16)}",
        "publishable_key": f"pk_{mode}_{secrets.token_hex(16)}",
        "webhook_secret": f"whsec_{secrets.token_hex(16)}",
    }


def connected_account() -> dict[str, str]:
    return {"kind": "connected", "account_id": f"acct_{secrets.token_hex(8)}"}


async def use_account(http: httpx.AsyncClient, shop: Shop, body: dict[str, str]) -> dict:
    answer = await http.put(
        settings_url(shop.venue.organization_id), json=body, headers=shop.venue.admin
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


@dataclass
class StripeOrder:
    shop: Shop
    order_id: uuid.UUID
    payment_id: uuid.UUID
    intent: dict[str, Any]
    client_data: dict[str, Any]

    @property
    def organization_id(self) -> str:
        return self.shop.venue.organization_id


async def stripe_order(
    http: httpx.AsyncClient,
    database: Database,
    stripe_api: StripeStandIn,
    quantity: int = 2,
    *,
    shop: Shop | None = None,
) -> StripeOrder:
    """A pending order paid with Stripe (``shop``'s, else a new shop's), and its intent."""
    shop = shop or await open_shop(http, database)
    buyer = await Buyer.signed_in(http)
    await take(http, shop, buyer, shop.standard, quantity)
    answer = await checkout(http, shop, buyer, payment_provider="stripe")
    assert answer.status_code == 201, answer.text
    body = answer.json()
    payment = body["payment"]
    assert payment["provider"] == "stripe" and payment["status"] == "requires_action"
    intent = next(
        i for i in stripe_api.intents.values() if i["metadata"]["payment_id"] == payment["id"]
    )
    assert payment["client_data"]["client_secret"] == intent["client_secret"]
    return StripeOrder(
        shop,
        uuid.UUID(body["order"]["id"]),
        uuid.UUID(payment["id"]),
        intent,
        payment["client_data"],
    )


def settled(intent: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**intent, "status": "succeeded", "amount_received": intent["amount"], **changes}


def failed(intent: dict[str, Any]) -> dict[str, Any]:
    return {
        **intent,
        "status": "requires_payment_method",
        "last_payment_error": {"code": "card_declined", "message": "Your card was declined."},
    }


async def deliver(
    http: httpx.AsyncClient, payload: bytes, headers: dict[str, str], url: str = WEBHOOK
) -> httpx.Response:
    return await http.post(url, content=payload, headers=headers)


async def send(
    http: httpx.AsyncClient,
    kind: str,
    subject: dict[str, Any],
    *,
    secret: str = WEBHOOK_SECRET,
    url: str = WEBHOOK,
    **extra: Any,
) -> httpx.Response:
    """Deliver a new event, signed with ``secret``, to ``url``."""
    payload, headers = signed_event(kind, subject, secret, **extra)
    return await deliver(http, payload, headers, url)


async def state(database: Database, placed: StripeOrder) -> tuple[Order, Payment, int]:
    """The order, its payment and how many tickets it has."""
    async with database.transaction() as session:
        order = await session.get(Order, placed.order_id)
        payment = await session.get(Payment, placed.payment_id)
        tickets = await session.scalar(
            select(func.count()).select_from(Ticket).where(Ticket.order_id == placed.order_id)
        )
    assert order is not None and payment is not None
    return order, payment, tickets
