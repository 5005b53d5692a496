"""Redis killed under a running API, on a server of the test's own: the API keeps selling
on the database alone (holds, checkout, payment, sold out refused) and readiness says
``degraded`` naming the cache; once Redis is back the API uses it again by itself."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from kernel.db import Database
from tests.integration.crash.support import (
    available,
    buy,
    buyer,
    eventually,
    hold,
    open_sale,
    order_statuses,
    problem_type,
)
from tests.integration.inventory.support import check_invariants, pools
from tests.support.openapi_contract import checked_client
from tests.support.private_servers import PrivateRedis
from tests.support.processes import served_processes

pytestmark = [pytest.mark.crash, pytest.mark.timeout(300)]

CAPACITY = 7


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis()
    try:
        server.start()
        yield server
    finally:
        server.close()


async def _ready(api: httpx.AsyncClient) -> dict:
    answer = await api.get("/health/ready")
    assert answer.status_code == 200, answer.text  # never 503 for the cache alone
    return answer.json()


async def test_without_redis_the_api_sells_on_the_database_and_says_it_is_degraded(
    tmp_path, database_url: str, database: Database, private_redis: PrivateRedis
) -> None:
    with served_processes(
        tmp_path, database_url=database_url, redis_url=private_redis.url, count=1
    ) as (served,):
        async with checked_client(served.url, timeout=30) as api:
            assert (await _ready(api))["status"] == "ok"
            sale = await open_sale(api, capacity=CAPACITY)
            paid = [await buy(api, sale, await buyer(api))]
            buyers = [await buyer(api) for _ in range(6)]

            private_redis.kill()

            async def degraded() -> dict | None:
                body = await _ready(api)
                return body if body["status"] == "degraded" else None

            body = await eventually(degraded, seconds=15, what="readiness says degraded")
            assert body["degraded"] == ["cache"]
            assert body["checks"]["cache"]["backend"] == "redis"
            assert body["checks"]["cache"]["status"] == "error"
            assert body["checks"]["database"]["status"] == "ok"

            # Selling goes on: five buyers at once, then one who wants more than is left.
            paid += await asyncio.gather(*(buy(api, sale, headers) for headers in buyers[:5]))
            assert await available(api, sale) == 1
            refused = await hold(api, sale, buyers[5], quantity=2)
            assert refused.status_code == 409, refused.text
            assert problem_type(refused) == "urn:ticketing:problem:sold-out"
            page = await api.get(f"/api/v1/events/{sale.event_id}")
            assert page.status_code == 200, page.text  # served uncached

            private_redis.start()

            async def recovered() -> dict | None:
                body = await _ready(api)
                return body if body["status"] == "ok" else None

            body = await eventually(recovered, seconds=15, what="readiness ok again")
            assert body["checks"]["cache"] == {"backend": "redis", "status": "ok"}
            paid.append(await buy(api, sale, buyers[5]))
            assert await available(api, sale) == 0

    statuses = await order_statuses(database, sale.event_id)
    assert sorted(statuses) == sorted(paid)
    assert set(statuses.values()) == {"paid"}
    (pool,) = (await pools(database, sale.event_id)).values()
    assert (pool["sold"], pool["held"]) == (CAPACITY, 0)
    await check_invariants(database, sale.event_id)
