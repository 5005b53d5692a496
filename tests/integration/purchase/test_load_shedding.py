"""Load shedding on the buying path: with so many holds or checkouts of an event in
flight, the next buyer is answered 503 ``overloaded`` with ``Retry-After`` at once, and
changes nothing; once one finishes, the next is admitted.

The admitted requests are held in flight by :class:`Gate`, a plugin whose hooks wait
until the test opens it: the refused requests are answered while the gate is still shut,
so they cannot have waited for the admitted ones.
"""

from __future__ import annotations

import asyncio
import re
import socket
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import text

from kernel.admission import admission_of
from kernel.app import create_app
from kernel.db import Database
from kernel.markers import hookimpl
from kernel.plugin_manager import create_plugin_manager
from kernel.plugin_metadata import PluginCategory, PluginMetadata
from tests.conftest import make_settings
from tests.integration.inventory.support import cart, hold
from tests.integration.orders.support import Buyer, Shop, checkout, open_shop, take
from tests.support.live_server import live_server, served_app
from tests.support.openapi_contract import checked_client

PER_EVENT = 3
PER_PROCESS = 5
OVERLOADED = "urn:ticketing:problem:overloaded"
HOLDS_ROUTE = "/api/v1/events/{event_id}/holds"
CHECKOUT_ROUTE = "/api/v1/events/{event_id}/checkout"
WAIT_CODE = "WAIT-AT-THE-GATE"
DEADLINE_SECONDS = 30


class Gate:
    """Keeps buying requests in flight until opened: holds that show :data:`WAIT_CODE`
    (the promo-code hook runs before the hold's transaction), and checkouts of the events
    in :attr:`checkouts` (the checkout's veto hook)."""

    METADATA = PluginMetadata(
        slug="admission-test-gate",
        name="Holds buying requests in flight for the load shedding tests",
        version="1.0.0",
        category=PluginCategory.TICKETING,
    )

    def __init__(self) -> None:
        self.checkouts: set[str] = set()
        self.waiting = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._open: asyncio.Event | None = None

    async def _wait(self) -> None:
        if self._open is None:  # made on the server's loop, which runs in its own thread
            self._loop, self._open = asyncio.get_running_loop(), asyncio.Event()
        self.waiting += 1
        try:
            await self._open.wait()
        finally:
            self.waiting -= 1

    def open(self) -> None:
        if self._loop is not None and self._open is not None:
            self._loop.call_soon_threadsafe(self._open.set)

    def close(self) -> None:
        if self._loop is not None and self._open is not None:
            self._loop.call_soon_threadsafe(self._open.clear)

    @hookimpl
    async def ticketing_pricing_unlocked_ticket_types(self, promo_code):
        if promo_code == WAIT_CODE:
            await self._wait()
        return None

    @hookimpl
    async def ticketing_checkout_validate(self, cart):
        if str(cart.event_id) in self.checkouts:
            await self._wait()
        return None


@dataclass
class Server:
    url: str
    gate: Gate

    def in_flight(self) -> int:
        return admission_of(served_app(self.url)).in_flight


@pytest.fixture
def server(tmp_path, database_url, redis_url, identity_env) -> Iterator[Server]:
    settings = make_settings(
        tmp_path,
        database_url=database_url,
        redis_url=redis_url,
        rate_limit_requests=0,
        admission_per_event=PER_EVENT,
        admission_per_process=PER_PROCESS,
    )
    gate = Gate()
    plugins = create_plugin_manager(extra_plugins=[gate])
    with live_server(create_app(settings, plugins=plugins)) as url:
        try:
            yield Server(url, gate)
        finally:
            gate.open()  # let nothing hang the server's shutdown


@pytest.fixture
async def api(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    limits = httpx.Limits(max_connections=50, max_keepalive_connections=50)
    async with checked_client(server.url, timeout=DEADLINE_SECONDS, limits=limits) as client:
        yield client


async def until(condition, what: str) -> None:
    """Poll ``condition`` until it holds, or fail after :data:`DEADLINE_SECONDS`."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


async def metric(api: httpx.AsyncClient, name: str, **labels: str) -> float:
    """One sample of ``/metrics`` (0 when not exported yet)."""
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    for line in (await api.get("/metrics")).text.splitlines():
        if line.startswith(f"{name}{{{wanted}}} "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def assert_shed(answer: httpx.Response) -> None:
    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    body = answer.json()
    assert body["type"] == OVERLOADED and body["title"] == "Too many buyers right now"
    retry_after = int(answer.headers["Retry-After"])
    assert 1 <= retry_after <= 2 and body["retry_after"] == retry_after
    # what every answer carries, though the application never saw this request
    assert body["request_id"] == answer.headers["X-Request-ID"]
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'self'" in answer.headers["Content-Security-Policy"]


def exchange(url: str, *requests: bytes) -> list[bytes]:
    """Send each raw request on one connection, reading each answer before the next."""
    host, port = url.removeprefix("http://").split(":")
    answers = []
    with socket.create_connection((host, int(port)), timeout=DEADLINE_SECONDS) as connection:
        for request in requests:
            connection.sendall(request)
            answer = b""
            while b"\r\n\r\n" not in answer:
                answer += connection.recv(65536)
            head, _, body = answer.partition(b"\r\n\r\n")
            length = int(re.search(rb"(?i)content-length: (\d+)", head).group(1))
            while len(body) < length:
                body += connection.recv(65536)
            answers.append(head)
    return answers


async def holds_of(database: Database, event_id) -> int:
    async with database.transaction() as session:
        return await session.scalar(
            text("SELECT count(*) FROM inventory_hold WHERE event_id = :id"),
            {"id": uuid.UUID(str(event_id))},
        )


def gated_holds(api: httpx.AsyncClient, shop: Shop, count: int) -> list[asyncio.Task]:
    """``count`` holds that stay in flight until the gate opens."""

    async def one() -> httpx.Response:
        body = {"ticket_type_id": shop.standard, "quantity": 1, "cart_token": cart()}
        return await api.post(
            f"/api/v1/events/{shop.event_id}/holds", json={**body, "promo_code": WAIT_CODE}
        )

    return [asyncio.create_task(one()) for _ in range(count)]


async def test_holds_beyond_the_event_limit_are_refused_at_once_and_change_nothing(
    server: Server, api: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(api, database)
    other = await open_shop(api, database)
    shed_before = await metric(
        api, "ticketing_admission_shed_total", route=HOLDS_ROUTE, limit="event"
    )
    answered_before = await metric(
        api, "ticketing_http_requests_total", method="POST", route=HOLDS_ROUTE, status="503"
    )

    admitted = gated_holds(api, shop, PER_EVENT)
    await until(lambda: server.gate.waiting == PER_EVENT, "the admitted holds")
    assert await metric(api, "ticketing_admission_in_flight", route=HOLDS_ROUTE) == PER_EVENT

    refused = await asyncio.gather(
        *(hold(api, shop.event_id, shop.standard, cart_token=cart()) for _ in range(10))
    )
    for answer in refused:
        assert_shed(answer)
    assert server.gate.waiting == PER_EVENT  # answered while the admitted ones still run
    # refused before anything else is done for it: not even its body is looked at
    unread = await api.post(
        f"/api/v1/events/{shop.event_id}/holds",
        content=b"not json",
        headers={"Content-Type": "application/json"},
    )
    assert_shed(unread)
    assert await holds_of(database, shop.event_id) == 0
    availability = await api.get(f"/api/v1/events/{shop.event_id}/availability")
    assert {t["available"] for t in availability.json()["ticket_types"]} == {100, 20}
    shed = await metric(api, "ticketing_admission_shed_total", route=HOLDS_ROUTE, limit="event")
    assert shed - shed_before == 11
    # answered as their heads arrived, and still counted under their route
    answered = await metric(
        api, "ticketing_http_requests_total", method="POST", route=HOLDS_ROUTE, status="503"
    )
    assert answered - answered_before == 11

    # the body of a refused request is read and dropped: the connection serves on
    body = b'{"ticket_type_id": "%s", "quantity": 1}' % shop.standard.encode()
    refused_head, next_head = await asyncio.to_thread(
        exchange,
        server.url,
        b"POST /api/v1/events/%s/holds HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
        % (str(shop.event_id).encode(), len(body), body),
        b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    assert refused_head.startswith(b"HTTP/1.1 503 ") and b"retry-after: " in refused_head.lower()
    assert next_head.startswith(b"HTTP/1.1 200 ")

    # another event's buyers are not held up by this one's
    elsewhere = await hold(api, other.event_id, other.standard, cart_token=cart())
    assert elsewhere.status_code == 201, elsewhere.text

    server.gate.open()
    assert [answer.status_code for answer in await asyncio.gather(*admitted)] == [201] * PER_EVENT
    await until(lambda: server.in_flight() == 0, "the slots to be given back")
    after = await asyncio.gather(
        *(hold(api, shop.event_id, shop.standard, cart_token=cart()) for _ in range(PER_EVENT))
    )
    assert [answer.status_code for answer in after] == [201] * PER_EVENT
    assert await holds_of(database, shop.event_id) == 2 * PER_EVENT
    assert await metric(api, "ticketing_admission_in_flight", route=HOLDS_ROUTE) == 0


async def test_the_process_limit_counts_every_event(
    server: Server, api: httpx.AsyncClient, database: Database
) -> None:
    first, second, third = [await open_shop(api, database) for _ in range(3)]
    shed_before = await metric(
        api, "ticketing_admission_shed_total", route=HOLDS_ROUTE, limit="process"
    )
    admitted = gated_holds(api, first, PER_EVENT) + gated_holds(
        api, second, PER_PROCESS - PER_EVENT
    )
    await until(lambda: server.gate.waiting == PER_PROCESS, "the admitted holds")

    assert_shed(await hold(api, third.event_id, third.standard, cart_token=cart()))
    shed = await metric(api, "ticketing_admission_shed_total", route=HOLDS_ROUTE, limit="process")
    assert shed - shed_before == 1
    assert await holds_of(database, third.event_id) == 0

    server.gate.open()
    assert {answer.status_code for answer in await asyncio.gather(*admitted)} == {201}
    await until(lambda: server.in_flight() == 0, "the slots to be given back")
    answer = await hold(api, third.event_id, third.standard, cart_token=cart())
    assert answer.status_code == 201, answer.text


async def test_checkouts_beyond_the_event_limit_are_refused_and_place_no_order(
    server: Server, api: httpx.AsyncClient, database: Database
) -> None:
    shop = await open_shop(api, database)
    buyers = [Buyer.anonymous() for _ in range(PER_EVENT + 4)]
    for buyer in buyers:
        await take(api, shop, buyer, shop.standard)
    server.gate.checkouts.add(str(shop.event_id))
    first, rest = buyers[:PER_EVENT], buyers[PER_EVENT:]

    admitted = [asyncio.create_task(checkout(api, shop, buyer)) for buyer in first]
    await until(lambda: server.gate.waiting == PER_EVENT, "the admitted checkouts")
    refused = await asyncio.gather(*(checkout(api, shop, buyer) for buyer in rest))
    for answer in refused:
        assert_shed(answer)
    assert server.gate.waiting == PER_EVENT

    server.gate.open()
    assert [answer.status_code for answer in await asyncio.gather(*admitted)] == [201] * PER_EVENT
    async with database.transaction() as session:
        orders = await session.scalar(
            text("SELECT count(*) FROM ticket_order WHERE event_id = :id"),
            {"id": shop.event_id},
        )
    assert orders == PER_EVENT  # the refused buyers placed none...
    # ...and kept their holds: retried, their checkouts go through.
    await until(lambda: server.in_flight() == 0, "the slots to be given back")
    for buyer in rest:  # one after another: all at once, the limit would refuse one
        retried = await checkout(api, shop, buyer)
        assert retried.status_code == 201, retried.text


async def test_a_buyer_who_hangs_up_gives_the_slot_back(server: Server, database: Database) -> None:
    async with checked_client(server.url, timeout=DEADLINE_SECONDS) as setup:
        shop = await open_shop(setup, database)
    leaving = checked_client(server.url, timeout=DEADLINE_SECONDS)
    tasks = gated_holds(leaving, shop, PER_EVENT)
    await until(lambda: server.gate.waiting == PER_EVENT, "the admitted holds")
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await leaving.aclose()  # every connection closed with its request unanswered

    server.gate.open()
    await until(lambda: server.in_flight() == 0, "the slots to be given back")
    server.gate.close()
    async with checked_client(server.url, timeout=DEADLINE_SECONDS) as api:
        again = gated_holds(api, shop, PER_EVENT)
        await until(lambda: server.gate.waiting == PER_EVENT, "a full set admitted again")
        server.gate.open()
        assert {answer.status_code for answer in await asyncio.gather(*again)} == {201}
