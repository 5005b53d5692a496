"""A replica stopped with SIGTERM, as ``docker stop`` and a rolling update stop one.

The request in flight gets its whole answer and its change is kept, a live availability
stream ends cleanly (its client reconnects, to another replica), new connections are
refused at once, and the process exits 0 having logged no error. A request still running
after ``TICKETING_SHUTDOWN_TIMEOUT_SECONDS`` is cancelled, its change not kept, and the
process exits 0 without waiting for it any longer.

The slow request is a real one: a profile change, waiting for the user's row, which the
test holds locked.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from sqlalchemy import text

from kernel.db import Database
from tests.integration.conftest import Person, signed_in_user
from tests.integration.crash.support import eventually, open_sale
from tests.support.openapi_contract import checked_client
from tests.support.processes import served_processes

WAIT_SECONDS = 20
NEW_NAME = "Renamed"


@asynccontextmanager
async def renaming_while_the_row_is_held(
    api: httpx.AsyncClient, database: Database, person: Person, headers: dict[str, str]
) -> AsyncIterator[asyncio.Task[httpx.Response]]:
    """A profile change sent and waiting for the user's row, which this block holds."""
    async with database.transaction() as session:
        await session.execute(
            text("SELECT 1 FROM user_account WHERE email = :email FOR UPDATE"),
            {"email": person.email},
        )
        renaming = asyncio.create_task(
            api.patch("/api/v1/me", json={"name": NEW_NAME}, headers=headers)
        )
        await eventually(
            lambda: _waiting_for_the_row(database),
            seconds=WAIT_SECONDS,
            what="the profile change waiting for the row",
        )
        yield renaming


async def _waiting_for_the_row(database: Database) -> bool:
    async with database.transaction() as session:
        waiting = await session.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND query ILIKE '%user_account%'"
            )
        )
    return waiting > 0


async def _refused(url: str) -> bool:
    """Whether a new connection to ``url`` is refused."""
    async with httpx.AsyncClient(timeout=5) as fresh:
        try:
            await fresh.get(f"{url}/health/live")
        except httpx.ConnectError:
            return True
    return False


async def _exited(process: subprocess.Popen) -> bool:
    return process.poll() is not None


async def _saved_name(database: Database, person: Person) -> str | None:
    async with database.transaction() as session:
        return await session.scalar(
            text("SELECT name FROM user_account WHERE email = :email"), {"email": person.email}
        )


def _errors(log: str) -> list[str]:
    return [
        line
        for line in log.splitlines()
        if line.startswith("{") and json.loads(line)["level"] in ("ERROR", "CRITICAL")
    ]


async def test_sigterm_lets_the_request_in_flight_finish_ends_live_streams_and_exits_0(
    tmp_path, database_url: str, redis_url: str, database: Database
) -> None:
    with served_processes(tmp_path, database_url=database_url, redis_url=redis_url, count=1) as (
        served,
    ):
        async with checked_client(served.url, timeout=60) as api:
            sale = await open_sale(api, capacity=5)
            person = Person.new("renaming")
            headers = await signed_in_user(api, person)
            stream = api.stream("GET", f"/api/v1/events/{sale.event_id}/availability/stream")
            async with stream as live:
                lines = live.aiter_lines()
                assert await anext(lines) == "event: availability"

                async with renaming_while_the_row_is_held(api, database, person, headers) as (
                    renaming
                ):
                    logged_before = served.log.stat().st_size
                    served.process.send_signal(signal.SIGTERM)

                    await eventually(
                        lambda: _refused(served.url),
                        seconds=WAIT_SECONDS,
                        what="new connections refused",
                    )
                    # The stream ends whole (one cut off raises here), before the request.
                    async with asyncio.timeout(WAIT_SECONDS):
                        async for _line in lines:
                            pass
                    assert not renaming.done()
                # The row is let go: the request goes on.
                renamed = await renaming

    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["name"] == NEW_NAME
    assert renamed.headers["connection"] == "close"
    assert served.process.wait(timeout=WAIT_SECONDS) == 0
    assert await _saved_name(database, person) == NEW_NAME
    with served.log.open() as log:
        log.seek(logged_before)
        assert _errors(log.read()) == []


async def test_a_request_outlasting_the_shutdown_timeout_is_cancelled_and_the_process_exits_0(
    tmp_path, database_url: str, redis_url: str, database: Database
) -> None:
    env = {"TICKETING_SHUTDOWN_TIMEOUT_SECONDS": "1"}
    with served_processes(
        tmp_path, database_url=database_url, redis_url=redis_url, count=1, env=env
    ) as (served,):
        # Not the contract-checked client: uvicorn, not the app, answers the cancelled
        # request (a plain-text 500).
        async with httpx.AsyncClient(base_url=served.url, timeout=60) as api:
            person = Person.new("renaming")
            headers = await signed_in_user(api, person)
            async with renaming_while_the_row_is_held(api, database, person, headers) as renaming:
                served.process.send_signal(signal.SIGTERM)
                # The row stays held: the process stops without the request's answer.
                await eventually(
                    lambda: _exited(served.process),
                    seconds=WAIT_SECONDS,
                    what="the process exited while its request still waited",
                )
            cut_off = await renaming

    assert served.process.returncode == 0
    assert cut_off.status_code == 500  # uvicorn's own answer to a cancelled request
    assert await _saved_name(database, person) == person.name
