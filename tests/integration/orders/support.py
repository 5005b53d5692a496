"""Helpers of the orders tests: one app per module (with a plugin that vetoes the
checkouts of chosen events), a venue with two priced ticket types, holds then checkout,
and the hold rows an order took over.

Test modules import the fixtures ``shop_url`` and ``http`` from here (as
``shop_url_fixture`` and ``http_fixture``: the names tests use are the fixtures' ``name``).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import text

from kernel.contracts import CheckoutVeto
from kernel.db import Database
from kernel.markers import hookimpl
from kernel.plugin_manager import create_plugin_manager
from kernel.plugin_metadata import PluginCategory, PluginMetadata
from tests.integration.conftest import (
    Person,
    module_app,
    signed_in_user,
)
from tests.integration.inventory.support import cart, hold, make_type
from tests.integration.ticketing.support import Venue, open_venue
from tests.support.openapi_contract import checked_client

STANDARD_PRICE = 2500
VIP_PRICE = 4000


class CheckoutVetoes:
    """A stand-in for a plugin with checkout rules: refuses the events it is told to."""

    METADATA = PluginMetadata(
        slug="orders-test-vetoes",
        name="Checkout vetoes for the orders tests",
        version="1.0.0",
        category=PluginCategory.TICKETING,
    )

    def __init__(self) -> None:
        self.reasons: dict[str, str] = {}  # event id -> reason
        self.carts: list = []  # every cart it was asked about

    @hookimpl
    async def ticketing_checkout_validate(self, cart):
        self.carts.append(cart)
        reason = self.reasons.get(str(cart.event_id))
        return [CheckoutVeto(code="members-only", reason=reason)] if reason else None


VETOES = CheckoutVetoes()


@pytest.fixture(scope="module", name="shop_url")
def shop_url_fixture(tmp_path_factory, database_url: str, redis_url: str) -> Iterator[str]:
    """The real app for the whole module, with :data:`VETOES` registered."""
    with module_app(
        tmp_path_factory,
        database_url,
        redis_url,
        "orders",
        plugins=create_plugin_manager(extra_plugins=[VETOES]),
    ) as url:
        yield url


@pytest.fixture(scope="module", name="http")
async def http_fixture(shop_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with checked_client(shop_url, timeout=60) as client:
        yield client


@dataclass
class Shop:
    """A venue (organization, published event) selling Standard and VIP tickets."""

    venue: Venue
    standard: str
    vip: str

    @property
    def event_id(self) -> uuid.UUID:
        return self.venue.event_id

    @property
    def orders(self) -> str:
        return f"{self.venue.event_base}/orders"


async def open_shop(
    api: httpx.AsyncClient,
    database: Database,
    *,
    standard_capacity: int | None = 100,
    vip_capacity: int | None = 20,
) -> Shop:
    venue = await open_venue(api, database, capacity=standard_capacity)
    vip = await make_type(
        api,
        venue.organization_id,
        venue.admin,
        venue.event_id,
        name="VIP",
        price_amount=VIP_PRICE,
        capacity=vip_capacity,
    )
    return Shop(venue, venue.ticket_type_id, vip["id"])


@dataclass
class Buyer:
    """Someone with a cart: signed in (``headers``) or anonymous (``cart_token``)."""

    person: Person
    headers: dict[str, str]
    cart_token: str | None = None

    @classmethod
    async def signed_in(cls, api: httpx.AsyncClient) -> Buyer:
        person = Person.new("buyer")
        return cls(person, await signed_in_user(api, person))

    @classmethod
    def anonymous(cls) -> Buyer:
        return cls(Person.new("guest"), {}, cart())

    @property
    def buyer(self) -> dict[str, str]:
        return {"name": self.person.name, "email": self.person.email}


async def take(
    api: httpx.AsyncClient, shop: Shop, buyer: Buyer, ticket_type_id: str, quantity: int = 1
) -> dict:
    """A hold that must succeed; its body."""
    answer = await hold(
        api,
        shop.event_id,
        ticket_type_id,
        quantity=quantity,
        cart_token=buyer.cart_token,
        headers=buyer.headers,
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


async def checkout(
    api: httpx.AsyncClient,
    shop: Shop,
    buyer: Buyer,
    *,
    key: str | None = None,
    with_buyer: bool | None = None,
    **body,
) -> httpx.Response:
    """POST the checkout; anonymous buyers send their cart token and who they are."""
    headers = dict(buyer.headers)
    if key is not None:
        headers["Idempotency-Key"] = key
    if buyer.cart_token is not None:
        body.setdefault("cart_token", buyer.cart_token)
    if with_buyer if with_buyer is not None else buyer.cart_token is not None:
        body.setdefault("buyer", buyer.buyer)
    return await api.post(f"/api/v1/events/{shop.event_id}/checkout", json=body, headers=headers)


async def place(api: httpx.AsyncClient, shop: Shop, buyer: Buyer, **quantities: int) -> dict:
    """Hold ``standard=``/``vip=`` quantities and check out; the 201 body."""
    for name, quantity in quantities.items():
        await take(api, shop, buyer, getattr(shop, name), quantity)
    answer = await checkout(api, shop, buyer)
    assert answer.status_code == 201, answer.text
    return answer.json()


def token(placed: dict) -> dict[str, str]:
    return {"X-Order-Token": placed["access_token"]}


async def order_holds(database: Database, order_id: str) -> list[dict]:
    """The order's holds with their owner, expiry, and their shares' expiries."""
    async with database.transaction() as session:
        rows = await session.execute(
            text(
                """
                SELECT h.id, h.owner, CAST(h.status AS text) AS status, h.expires_at,
                       ARRAY(SELECT ph.expires_at FROM inventory_pool_hold ph
                              WHERE ph.hold_id = h.id) AS share_expiries
                  FROM order_line l JOIN inventory_hold h ON h.id = l.hold_id
                 WHERE l.order_id = :order_id
                 ORDER BY l.position
                """
            ),
            {"order_id": uuid.UUID(order_id)},
        )
        return [dict(row._mapping) for row in rows]


async def make_overdue(database: Database, order_id: str) -> None:
    """Let the order's payment deadline pass: the order, its holds and their shares."""
    async with database.transaction() as session:
        params = {"order_id": uuid.UUID(order_id)}
        await session.execute(
            text(
                "UPDATE ticket_order SET expires_at = now() - interval '1 minute' "
                "WHERE id = :order_id"
            ),
            params,
        )
        holds = "SELECT hold_id FROM order_line WHERE order_id = :order_id"
        await session.execute(
            text(
                "UPDATE inventory_hold SET expires_at = now() - interval '1 minute' "
                f"WHERE id IN ({holds})"
            ),
            params,
        )
        await session.execute(
            text(
                "UPDATE inventory_pool_hold SET expires_at = now() - interval '1 minute' "
                f"WHERE hold_id IN ({holds})"
            ),
            params,
        )


async def count_orders(database: Database, event_id: uuid.UUID) -> int:
    async with database.transaction() as session:
        return await session.scalar(
            text("SELECT count(*) FROM ticket_order WHERE event_id = :event_id"),
            {"event_id": event_id},
        )
