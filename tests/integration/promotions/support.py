"""Helpers of the promo code tests: one app per module, a shop (the orders tests' venue
with Standard and VIP tickets), codes made over the organizer API, and reads of a code's
uses and redemptions straight from the database.

Test modules import the fixtures ``promo_url`` and ``http`` from here (as
``promo_url_fixture`` and ``http_fixture``).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from kernel.db import Database
from tests.integration.conftest import module_app
from tests.integration.orders.support import Buyer, Shop, checkout, take
from tests.support.openapi_contract import checked_client

WAIT_SECONDS = 15


@pytest.fixture(scope="module", name="promo_url")
def promo_url_fixture(tmp_path_factory, database_url: str, redis_url: str) -> Iterator[str]:
    """The real app (every builtin plugin, promotions included) for the whole module."""
    with module_app(tmp_path_factory, database_url, redis_url, "promotions") as url:
        yield url


@pytest.fixture(scope="module", name="http")
async def http_fixture(promo_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with checked_client(promo_url, timeout=60) as client:
        yield client


def codes_url(shop: Shop) -> str:
    return f"{shop.venue.base}/promo-codes"


def unique_code(prefix: str = "PROMO") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10].upper()}"


async def make_code(http: httpx.AsyncClient, shop: Shop, **fields: Any) -> dict:
    """A code of the shop's event (20 % off unless told otherwise); its 201 body."""
    body: dict[str, Any] = {"code": unique_code(), "event_id": str(shop.event_id)}
    if "amount_off" not in fields:
        body["percent_off"] = 2000
    body.update(fields)
    answer = await http.post(codes_url(shop), json=body, headers=shop.venue.admin)
    assert answer.status_code == 201, answer.text
    return answer.json()


async def read_code(http: httpx.AsyncClient, shop: Shop, code: dict) -> dict:
    answer = await http.get(f"{codes_url(shop)}/{code['id']}", headers=shop.venue.admin)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def buy(
    http: httpx.AsyncClient,
    shop: Shop,
    buyer: Buyer,
    promo_code: str | None,
    **quantities: int,
) -> httpx.Response:
    """Hold ``standard=``/``vip=`` quantities, then check out with ``promo_code``."""
    for name, quantity in quantities.items():
        await take(http, shop, buyer, getattr(shop, name), quantity)
    body = {"promo_code": promo_code} if promo_code is not None else {}
    return await checkout(http, shop, buyer, **body)


async def redemptions(database: Database, code_id: str) -> list[dict]:
    """The code's redemptions: order, buyer key, tickets and status."""
    async with database.transaction() as session:
        rows = await session.execute(
            text(
                "SELECT order_id, buyer_key, quantity, CAST(status AS text) AS status "
                "FROM promo_redemption WHERE promo_code_id = :id ORDER BY created_at"
            ),
            {"id": uuid.UUID(code_id)},
        )
        return [dict(row._mapping) for row in rows]


async def wait_for(condition: Callable[[], Any], what: str) -> None:
    """Poll ``condition`` (sync or async) until it is truthy, for up to WAIT_SECONDS: the
    outbox relay delivers after commit, on its own task."""
    deadline = asyncio.get_running_loop().time() + WAIT_SECONDS
    while True:
        result = condition()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {WAIT_SECONDS} s waiting for {what}")
        await asyncio.sleep(0.05)
