"""Three ``ticketing serve`` replicas on one PostgreSQL database and one Redis, as
``docker compose up --scale api=3`` runs them behind Traefik.

A buyer whose requests take turns over the replicas (request i on replica i % 3) buys a
ticket from start to finish and sees it on each of them; a sign-out, a member's removal
and an event's cancellation made on one replica are in force on the other two at the
very next request; a watcher of one replica sees the availability a purchase on another
changed; and twelve buyers racing across the three for the last three tickets get
exactly three.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from websockets.asyncio.client import connect

from kernel.db import Database
from tests.integration.conftest import (
    Person,
    invite_and_accept,
    new_organization,
    problem_code,
    signed_in_user,
)
from tests.integration.crash.support import (
    PRICE,
    Sale,
    available,
    buy,
    buyer,
    checkout,
    hold,
    mark_paid,
    open_sale,
)
from tests.integration.inventory.support import check_invariants, pools
from tests.integration.realtime.support import WAIT_SECONDS
from tests.integration.replicas.support import signed_in_buyers, through
from tests.support.processes import serve_processes

REPLICAS = 3
LAST_TICKETS = 3
RACING_BUYERS = 12


@pytest.fixture(scope="module")
def replica_urls(tmp_path_factory, database_url: str, redis_url: str) -> Iterator[list[str]]:
    directory = tmp_path_factory.mktemp("three-replicas")
    with serve_processes(
        directory, database_url=database_url, redis_url=redis_url, count=REPLICAS
    ) as urls:
        yield urls


@pytest.fixture(scope="module")
async def replicas(replica_urls: list[str]) -> AsyncIterator[list[httpx.AsyncClient]]:
    """A client of each replica."""
    clients = [through([url], document_of=replica_urls[0]) for url in replica_urls]
    yield clients
    for client in clients:
        await client.aclose()


@pytest.fixture
async def proxy(replica_urls: list[str]) -> AsyncIterator[httpx.AsyncClient]:
    """A client whose requests take turns over the replicas."""
    async with through(replica_urls, document_of=replica_urls[0]) as client:
        yield client


async def test_a_purchase_whose_requests_take_turns_over_the_replicas(
    proxy: httpx.AsyncClient, replicas: list[httpx.AsyncClient]
) -> None:
    sale = await open_sale(proxy, capacity=10)
    headers = await buyer(proxy)
    order_id = await buy(proxy, sale, headers, quantity=2)

    for replica in replicas:
        answer = await replica.get(f"/api/v1/orders/{order_id}", headers=headers)
        assert answer.status_code == 200, answer.text
        order = answer.json()
        assert (order["status"], order["total_amount"]) == ("paid", 2 * PRICE)
        mine = await replica.get("/api/v1/me/tickets", headers=headers)
        assert mine.status_code == 200, mine.text
        issued = {t["id"] for t in mine.json()["items"] if t["order_id"] == order_id}
        assert issued == {t["id"] for t in order["tickets"]} and len(issued) == 2
        assert await available(replica, sale) == 8


async def test_a_sign_out_on_one_replica_is_refused_at_once_by_the_others(
    replicas: list[httpx.AsyncClient],
) -> None:
    headers = await signed_in_user(replicas[0], Person.new("leaving"))
    for replica in replicas:
        assert (await replica.get("/api/v1/me", headers=headers)).status_code == 200

    signed_out = await replicas[1].post("/api/v1/auth/sign-out", headers=headers)
    assert signed_out.status_code == 204, signed_out.text

    for replica in (replicas[2], replicas[0]):
        refused = await replica.get("/api/v1/me", headers=headers)
        assert refused.status_code == 401, refused.text


async def test_a_member_removed_on_one_replica_is_refused_at_once_by_the_others(
    replicas: list[httpx.AsyncClient],
) -> None:
    organization_id, admin = await new_organization(replicas[0])
    person = Person.new("organizer")
    member = await signed_in_user(replicas[0], person)
    await invite_and_accept(replicas[0], organization_id, admin, member, person.email, "organizer")
    user_id = (await replicas[0].get("/api/v1/me", headers=member)).json()["id"]
    events = f"/api/v1/organizations/{organization_id}/events"
    for replica in replicas:
        assert (await replica.get(events, headers=member)).status_code == 200

    removed = await replicas[1].delete(
        f"/api/v1/organizations/{organization_id}/members/{user_id}",
        headers=admin,
    )
    assert removed.status_code == 204, removed.text

    for replica in (replicas[2], replicas[0]):
        refused = await replica.get(events, headers=member)  # no longer theirs to see
        assert (refused.status_code, problem_code(refused)) == (404, "not-found"), refused.text


async def test_an_event_cancelled_on_one_replica_is_off_sale_at_once_on_the_others(
    replicas: list[httpx.AsyncClient],
) -> None:
    """Each replica keeps the catalog of an event it sold (kernel.versioned_cache): a
    buyer holding tickets there cannot check out once another replica cancelled it."""
    sale = await open_sale(replicas[0], capacity=10)
    others = replicas[1:]
    buyers = await signed_in_buyers(others, 4)
    for replica, headers in zip(others, buyers[:2], strict=True):
        await buy(replica, sale, headers)
    holding = list(zip(others, buyers[2:], strict=True))
    for replica, headers in holding:
        held = await hold(replica, sale, headers)
        assert held.status_code == 201, held.text

    cancelled = await replicas[0].post(f"{sale.event_base}/cancel", headers=sale.admin)
    assert cancelled.status_code == 200, cancelled.text

    for replica, headers in holding:
        refused = await checkout(replica, sale, headers, f"cancelled-{uuid.uuid4()}")
        assert (refused.status_code, problem_code(refused)) == (404, "not-found"), refused.text


async def test_a_watcher_of_one_replica_sees_a_purchase_made_on_another(
    replica_urls: list[str], replicas: list[httpx.AsyncClient]
) -> None:
    sale = await open_sale(replicas[0], capacity=10)
    headers = await buyer(replicas[0])
    watched = replica_urls[2].replace("http://", "ws://")
    async with connect(f"{watched}/api/v1/events/{sale.event_id}/availability/ws") as ws:
        assert await _available_as_pushed(ws, sale) == 10

        await buy(replicas[0], sale, headers, quantity=3)

        async with asyncio.timeout(WAIT_SECONDS):
            while (seen := await _available_as_pushed(ws, sale)) != 7:
                assert seen > 7, seen


async def _available_as_pushed(ws, sale: Sale) -> int:
    async with asyncio.timeout(WAIT_SECONDS):
        message = json.loads(await ws.recv())
    assert message["event_id"] == sale.event_id
    return message["ticket_types"][sale.ticket_type_id]


async def test_buyers_racing_across_the_replicas_for_the_last_tickets_get_exactly_those(
    proxy: httpx.AsyncClient, replicas: list[httpx.AsyncClient], database: Database
) -> None:
    sale = await open_sale(proxy, capacity=LAST_TICKETS)
    buyers = await signed_in_buyers(replicas, RACING_BUYERS)

    async def attempt(replica: httpx.AsyncClient, headers: dict[str, str]) -> str:
        """Hold one ticket, check out, get paid: ``paid``, or the refusal's problem code."""
        held = await hold(replica, sale, headers)
        if held.status_code != 201:
            return problem_code(held)
        placed = await checkout(replica, sale, headers, f"race-{uuid.uuid4()}")
        assert placed.status_code == 201, placed.text
        paid = await mark_paid(replica, sale, placed.json()["order"]["id"])
        assert paid.status_code == 200, paid.text
        return "paid"

    outcomes = await asyncio.gather(
        *(attempt(replicas[i % REPLICAS], headers) for i, headers in enumerate(buyers))
    )

    assert sorted(outcomes) == ["paid"] * LAST_TICKETS + ["sold-out"] * (
        RACING_BUYERS - LAST_TICKETS
    ), outcomes
    for replica in replicas:
        assert await available(replica, sale) == 0
    event_id = uuid.UUID(sale.event_id)
    await check_invariants(database, event_id)
    assert sum(pool["sold"] for pool in (await pools(database, event_id)).values()) == 3
