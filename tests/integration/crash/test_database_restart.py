"""PostgreSQL restarted under load, on a cluster of the test's own: while it is down every
request that needs it answers 503 problem+json (``database-unavailable``, with
Retry-After) promptly, never a 500 nor a hang; once it is back the same process serves
again with nobody restarting it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx
import pytest

from kernel import migrate
from kernel.plugin_manager import KernelPluginManager
from tests.integration.crash.support import (
    Sale,
    buyer,
    eventually,
    hold,
    open_sale,
    problem_type,
)
from tests.support.openapi_contract import checked_client
from tests.support.private_servers import PrivatePostgres
from tests.support.processes import served_processes

pytestmark = [pytest.mark.crash, pytest.mark.timeout(300)]

OVERLOADED = "urn:ticketing:problem:overloaded"
DATABASE_UNAVAILABLE = "urn:ticketing:problem:database-unavailable"
PROMPT_SECONDS = 5.0  # how long an answer may take while the database is down


@pytest.fixture
def postgres() -> Iterator[PrivatePostgres]:
    server = PrivatePostgres()
    try:
        server.start()
        yield server
    finally:
        server.close()


class Load:
    """Buyers holding tickets without pause; every answer kept as (status, type, seconds)."""

    def __init__(self, api: httpx.AsyncClient, sale: Sale, buyers: list[dict]) -> None:
        self.api, self.sale, self.buyers = api, sale, buyers
        self.answers: list[tuple[float, int | str, str | None, float]] = []
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task] = []

    async def _buyer(self, headers: dict) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                answer = await hold(self.api, self.sale, headers)
                seen: tuple[int | str, str | None] = (answer.status_code, problem_type(answer))
            except httpx.TransportError as exc:
                seen = (type(exc).__name__, None)
            self.answers.append((started, *seen, time.monotonic() - started))
            await asyncio.sleep(0.02)

    def __enter__(self) -> Load:
        self._tasks = [asyncio.create_task(self._buyer(headers)) for headers in self.buyers]
        return self

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks)

    def since(self, moment: float) -> list:
        return [answer for answer in self.answers if answer[0] >= moment]

    def __exit__(self, *exc_info) -> None:
        self._stop.set()


async def test_postgresql_restarted_under_load_answers_503_then_recovers_alone(
    tmp_path, postgres: PrivatePostgres, redis_url: str, plugins: KernelPluginManager
) -> None:
    await asyncio.to_thread(migrate.upgrade, postgres.url, plugins)
    with served_processes(
        tmp_path,
        database_url=postgres.url,
        redis_url=redis_url,
        count=1,
        env={"TICKETING_DB_POOL_SIZE": "4", "TICKETING_DB_MAX_OVERFLOW": "2"},
    ) as (served,):
        async with checked_client(served.url, timeout=PROMPT_SECONDS * 2) as api:
            sale = await open_sale(api, capacity=100_000)
            buyers = [await buyer(api) for _ in range(4)]
            with Load(api, sale, buyers) as load:
                await eventually(
                    lambda: _count(load.answers, 201, 8), seconds=20, what="holds under load"
                )

                postgres.stop_immediately()
                down_at = time.monotonic()

                async def refused() -> httpx.Response | None:
                    answer = await hold(api, sale, buyers[0])
                    return answer if answer.status_code == 503 else None

                answer = await eventually(refused, seconds=10, what="a 503 while down")
                assert problem_type(answer) == DATABASE_UNAVAILABLE, answer.text
                assert int(answer.headers["Retry-After"]) >= 1
                assert answer.json()["status"] == 503 and answer.json()["request_id"]
                started = time.monotonic()
                again = await hold(api, sale, buyers[1])
                assert again.status_code == 503, again.text
                assert time.monotonic() - started < PROMPT_SECONDS
                ready = await api.get("/health/ready")
                assert ready.status_code == 503
                assert ready.json()["checks"]["database"]["status"] == "error"
                assert (await api.get("/health/live")).status_code == 200
                await eventually(
                    lambda: _count(load.since(down_at + 1), 503, 8),
                    seconds=10,
                    what="the buyers see 503s",
                )

                postgres.start()
                up_at = time.monotonic()

                async def served_again() -> bool:
                    return (await hold(api, sale, buyers[2])).status_code == 201

                await eventually(served_again, seconds=20, what="holds again after restart")
                await eventually(
                    lambda: _count(load.since(time.monotonic() - 0.5), 201, 4),
                    seconds=10,
                    what="every buyer served again",
                )
                ready_again = await eventually(
                    lambda: _ready(api), seconds=10, what="ready after restart"
                )
                assert ready_again["checks"]["database"]["status"] == "ok"
                await load.stop()

            # Nothing but success and a clear 503, each prompt, before, during and after:
            # the database's, or load shedding's while admitted buyers wait on it.
            kinds = {(status, kind) for _, status, kind, _ in load.answers}
            assert kinds <= {(201, None), (503, DATABASE_UNAVAILABLE), (503, OVERLOADED)}, kinds
            slowest = max(seconds for *_, seconds in load.since(down_at))
            assert slowest < PROMPT_SECONDS, slowest
            assert up_at > down_at


async def _count(answers: list, status: int, enough: int) -> bool:
    return sum(1 for _, seen, *_ in answers if seen == status) >= enough


async def _ready(api: httpx.AsyncClient) -> dict | None:
    answer = await api.get("/health/ready")
    return answer.json() if answer.status_code == 200 else None
