"""Helpers of the guest tests: one app per module whose email plugin talks to a real SMTP
server on loopback, and a guest (no account) who buys and gets paid by the organizer
(manual provider).

Test modules import the fixtures ``smtp``, ``shop_url`` and ``http`` from here (as
``smtp_fixture``, ``shop_url_fixture`` and ``http_fixture``); :func:`smtp_env` points an
app of their own at the SMTP server.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import text

from kernel.db import Database
from tests.integration.conftest import module_app
from tests.integration.orders.support import (  # noqa: F401 -- http_fixture: re-exported
    Buyer,
    Shop,
    checkout,
    http_fixture,
    take,
)
from tests.support.smtp import SmtpServer, smtp_server

LINK_SECRET = "guest-tests-order-link-secret-0123456789abcdef"
PUBLIC_URL = "https://tickets.harbour.example"
SENDER = "tickets@harbour.example"
FROM = f"Harbour Tickets <{SENDER}>"
PDF = "application/pdf"


@pytest.fixture(scope="module", name="smtp")
def smtp_fixture() -> Iterator[SmtpServer]:
    with smtp_server() as server:
        yield server


def smtp_env(smtp: SmtpServer, sender: str = FROM) -> dict[str, str]:
    """The email plugin's settings to send as ``sender`` through ``smtp`` (plain, no login)."""
    return {
        "TICKETING_SMTP_HOST": smtp.host,
        "TICKETING_SMTP_PORT": str(smtp.port),
        "TICKETING_SMTP_SECURITY": "none",
        "TICKETING_EMAIL_FROM": sender,
    }


@pytest.fixture(scope="module", name="shop_url")
def shop_url_fixture(
    tmp_path_factory, database_url: str, redis_url: str, smtp: SmtpServer
) -> Iterator[str]:
    env = {
        **smtp_env(smtp),
        "TICKETING_PUBLIC_URL": PUBLIC_URL,
        "TICKETING_ORDER_LINK_SECRET": LINK_SECRET,
    }
    with module_app(tmp_path_factory, database_url, redis_url, "guest", env=env) as url:
        yield url


@dataclass
class GuestOrder:
    """An order placed without an account, and its access token from checkout."""

    id: str
    code: str
    access_token: str
    buyer: Buyer
    tickets: list[dict] = field(default_factory=list)  # as mark-paid answered them

    @property
    def headers(self) -> dict[str, str]:
        return {"X-Order-Token": self.access_token}

    @property
    def path(self) -> str:
        return f"/api/v1/orders/{self.id}"


async def guest_places(http: httpx.AsyncClient, shop: Shop, **quantities: int) -> GuestOrder:
    """An anonymous buyer holds ``standard=``/``vip=`` and checks out to pay by transfer."""
    buyer = Buyer.anonymous()
    for name, quantity in quantities.items():
        await take(http, shop, buyer, getattr(shop, name), quantity)
    placed = await checkout(http, shop, buyer, payment_provider="manual")
    assert placed.status_code == 201, placed.text
    body = placed.json()
    return GuestOrder(body["order"]["id"], body["order"]["code"], body["access_token"], buyer)


async def mark_paid(http: httpx.AsyncClient, shop: Shop, order: GuestOrder) -> GuestOrder:
    marked = await http.post(
        f"{shop.orders}/{order.id}/mark-paid",
        json={"reason": "transfer received"},
        headers=shop.venue.admin,
    )
    assert marked.status_code == 200, marked.text
    order.tickets = marked.json()["tickets"]
    return order


async def guest_buys(http: httpx.AsyncClient, shop: Shop, **quantities: int) -> GuestOrder:
    """A guest's order, placed and paid."""
    return await mark_paid(http, shop, await guest_places(http, shop, **quantities))


def local(url: str) -> str:
    """A link made for the public URL, as a path and query for the app under test (what
    the reverse proxy in front of it does)."""
    assert url.startswith(PUBLIC_URL + "/"), url
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


async def paid_event(database: Database, order_id: str) -> dict:
    """The order's ``order.paid`` outbox event: attempts, last error, when dispatched."""
    async with database.transaction() as session:
        row = await session.execute(
            text(
                "SELECT id, attempts, last_error, dispatched_at FROM outbox_event "
                "WHERE topic = 'order.paid' AND payload->>'order_id' = :order_id"
            ),
            {"order_id": order_id},
        )
        return dict(row.one()._mapping)


async def sent_emails(database: Database, order_id: str) -> list[dict]:
    async with database.transaction() as session:
        rows = await session.execute(
            text("SELECT * FROM sent_email WHERE subject_id = :order_id"),
            {"order_id": uuid.UUID(order_id)},
        )
        return [dict(row._mapping) for row in rows]


async def until(probe, ok, *, timeout: float = 30):
    """Call ``probe`` until ``ok(answer)``; the answer, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not ok(answer := await probe()):
        if time.monotonic() > deadline:
            raise AssertionError(f"still {answer!r} after {timeout} s")
        await asyncio.sleep(0.05)
    return answer
