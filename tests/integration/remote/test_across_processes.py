"""Remote plugins on two real ``ticketing serve`` processes sharing one PostgreSQL and
Redis, as replicas behind a reverse proxy are.

Failures seen through one process open the plugin hook's circuit breaker for both: the
other then answers without calling the plugin at once, shows the breaker open, half-opens
it after the cool-down and closes it on the first success. The handshake hands the
plugin the platform's public URL (``TICKETING_PUBLIC_URL``), not the address the
administrator's request came in on.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import httpx
import pytest

from kernel.db import Database
from tests.integration.orders.support import STANDARD_PRICE, Shop, open_shop
from tests.integration.remote.support import Remote
from tests.support.openapi_contract import checked_client
from tests.support.processes import serve_processes

ROUTE = "/api/v1/platform/remote-plugins"
HOOK = "ticketing_pricing_adjusters"
PUBLIC_URL = "https://tickets.example.org"
MIN_CALLS = 4
# Long enough that process B answers while the breaker is still open, short for a test.
COOL_DOWN_SECONDS = 3


@pytest.fixture(scope="module")
def processes(tmp_path_factory, database_url: str, redis_url: str) -> Iterator[list[str]]:
    env = {
        "TICKETING_REMOTE_BREAKER_MIN_CALLS": str(MIN_CALLS),
        "TICKETING_REMOTE_BREAKER_COOLDOWN_SECONDS": str(COOL_DOWN_SECONDS),
        "TICKETING_PUBLIC_URL": PUBLIC_URL,
    }
    directory = tmp_path_factory.mktemp("remote-processes")
    with serve_processes(
        directory, database_url=database_url, redis_url=redis_url, env=env
    ) as urls:
        yield urls


@pytest.fixture(scope="module")
def api_url(processes: list[str]) -> str:
    """Process A: the shared ``http`` and ``admin`` fixtures talk to it."""
    return processes[0]


@pytest.fixture(scope="module")
async def other(processes: list[str]) -> AsyncIterator[httpx.AsyncClient]:
    """Process B."""
    async with checked_client(processes[1], timeout=60) as client:
        yield client


async def eventually(check: Callable[[], Awaitable[bool]], what: str, within: float = 15) -> None:
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, f"not within {within} s: {what}"
        await asyncio.sleep(0.05)


async def discounts(api: httpx.AsyncClient, shop: Shop) -> dict[str, int]:
    answer = await api.get(
        f"/api/v1/events/{shop.event_id}/ticket-types/{shop.standard}/quote",
        params={"quantity": 1},
    )
    assert answer.status_code == 200, answer.text
    return {item["code"]: item["amount"] for item in answer.json()["adjustments"]}


async def breaker(api: httpx.AsyncClient, admin: dict, slug: str) -> str:
    answer = await api.get(f"{ROUTE}/{slug}", headers=admin)
    assert answer.status_code == 200, answer.text
    return answer.json()["breakers"][HOOK]


async def registered_shop(
    http: httpx.AsyncClient, database: Database, admin: dict, remote: Remote
) -> Shop:
    answer = await http.post(ROUTE, json=remote.registration(), headers=admin)
    assert answer.status_code == 201, answer.text
    shop = await open_shop(http, database)
    turned_on = await http.put(
        f"/api/v1/organizations/{shop.venue.organization_id}/plugins/{remote.slug}",
        json={"enabled": True, "settings": {}},
        headers=shop.venue.admin,
    )
    assert turned_on.status_code == 200, turned_on.text
    return shop


async def test_failures_through_one_process_open_the_breaker_for_every_process(
    http: httpx.AsyncClient,
    other: httpx.AsyncClient,
    database: Database,
    admin: dict,
    loyalty: Remote,
) -> None:
    shop = await registered_shop(http, database, admin, loyalty)
    discounted = {"loyalty": -STANDARD_PRICE // 10}

    async def b_runs_it() -> bool:
        return await discounts(other, shop) == discounted

    await eventually(b_runs_it, "process B runs the plugin registered through A")

    loyalty.faults.mode = "error"
    for _ in range(10 * MIN_CALLS):  # B's successes above count in the window too
        assert await discounts(http, shop) == {}
        if await breaker(http, admin, loyalty.slug) == "open":
            break
    assert await breaker(http, admin, loyalty.slug) == "open"

    reached = loyalty.faults.hook_requests
    assert await breaker(other, admin, loyalty.slug) == "open"
    assert await discounts(other, shop) == {}  # policy skip, at once
    assert loyalty.faults.hook_requests == reached  # B never called the plugin
    metrics = (await other.get("/metrics")).text
    assert (
        f'ticketing_remote_hook_failures_total{{hook="{HOOK}",plugin="{loyalty.slug}",'
        'reason="breaker-open"} 1.0'
    ) in metrics
    assert f'ticketing_remote_breaker_state{{hook="{HOOK}",plugin="{loyalty.slug}"}} 2.0' in (
        metrics
    )

    async def half_open() -> bool:
        return await breaker(other, admin, loyalty.slug) == "half_open"

    await eventually(half_open, "the cool-down ends: B shows the breaker half-open")
    loyalty.faults.mode = "ok"
    await eventually(b_runs_it, "B's probe succeeds and the discount is back")
    assert await breaker(other, admin, loyalty.slug) == "closed"
    assert await breaker(http, admin, loyalty.slug) == "closed"
    assert await discounts(http, shop) == discounted


async def test_the_handshake_hands_the_plugin_the_public_url(
    http: httpx.AsyncClient, admin: dict, loyalty: Remote, api_url: str
) -> None:
    answer = await http.post(ROUTE, json=loyalty.registration(), headers=admin)
    assert answer.status_code == 201, answer.text
    (offered,) = loyalty.faults.handshakes
    assert offered["platform"]["url"] == PUBLIC_URL
    assert api_url not in str(offered)
