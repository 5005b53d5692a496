"""Idempotency keys against real PostgreSQL: stored with the work, replayed, serialized.

Every test uses its own scope, so tests sharing the session database never collide.
"""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel
from sqlalchemy import text

from kernel.db import Database
from kernel.idempotency import (
    IdempotencyKeyHeader,
    IdempotencyKeyReused,
    StoredResult,
    claim,
    purge_expired,
    remember,
    replay_response,
    request_fingerprint,
)
from kernel.problems import install_problem_handlers

WAIT_SECONDS = 10


def unique_scope() -> str:
    return f"test:{uuid.uuid4().hex[:12]}"


async def claim_and_execute(
    database: Database, scope: str, key: str, fingerprint: str, body: dict
) -> StoredResult | None:
    async with database.transaction() as session:
        stored = await claim(session, scope=scope, key=key, fingerprint=fingerprint)
        if stored is None:
            await remember(session, scope=scope, key=key, result_status=201, body=body)
        return stored


async def test_first_claim_executes_and_a_retry_gets_the_stored_result(database: Database) -> None:
    scope, fingerprint = unique_scope(), request_fingerprint("POST", "/orders", {"qty": 2})

    assert await claim_and_execute(database, scope, "k1", fingerprint, {"id": "o-1"}) is None
    stored = await claim_and_execute(database, scope, "k1", fingerprint, {"id": "o-2"})

    assert stored == StoredResult(status_code=201, body={"id": "o-1"})
    response = replay_response(stored)
    assert response.status_code == 201
    assert response.body == b'{"id":"o-1"}'
    assert response.headers["Idempotent-Replayed"] == "true"


async def test_same_key_with_a_different_request_is_a_422_problem(database: Database) -> None:
    scope = unique_scope()
    first = request_fingerprint("POST", "/orders", {"qty": 2})
    assert await claim_and_execute(database, scope, "k1", first, {"id": "o-1"}) is None

    other = request_fingerprint("POST", "/orders", {"qty": 3})
    with pytest.raises(IdempotencyKeyReused) as raised:
        await claim_and_execute(database, scope, "k1", other, {"id": "o-2"})
    assert raised.value.status == 422
    assert raised.value.code == "idempotency-key-reused"


async def test_a_rolled_back_claim_leaves_the_key_free(database: Database) -> None:
    scope, fingerprint = unique_scope(), request_fingerprint("POST", "/pay", {})

    with pytest.raises(RuntimeError):
        async with database.transaction() as session:
            assert await claim(session, scope=scope, key="k1", fingerprint=fingerprint) is None
            raise RuntimeError("payment provider down")

    assert await claim_and_execute(database, scope, "k1", fingerprint, {"paid": True}) is None


async def _wait_until_blocked_on_a_lock(database: Database, pid: int) -> None:
    """Poll until backend ``pid`` waits on a lock, so the race is ordered, not timed."""
    async with asyncio.timeout(WAIT_SECONDS):
        while True:
            async with database.sessions() as session:
                wait_type = await session.scalar(
                    text("SELECT wait_event_type FROM pg_stat_activity WHERE pid = :pid"),
                    {"pid": pid},
                )
            if wait_type == "Lock":
                return
            await asyncio.sleep(0.01)


async def test_concurrent_duplicates_are_serialized_and_execute_once(database: Database) -> None:
    scope, fingerprint = unique_scope(), request_fingerprint("POST", "/tickets", {"n": 1})
    executions = 0
    second_pid: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def second() -> StoredResult | None:
        nonlocal executions
        async with database.transaction() as session:
            second_pid.set_result(await session.scalar(text("SELECT pg_backend_pid()")))
            stored = await claim(session, scope=scope, key="k1", fingerprint=fingerprint)
            if stored is None:
                executions += 1
                await remember(session, scope=scope, key="k1", result_status=201, body={"by": 2})
            return stored

    async with database.transaction() as session:
        assert await claim(session, scope=scope, key="k1", fingerprint=fingerprint) is None
        executions += 1

        task = asyncio.create_task(second())
        await _wait_until_blocked_on_a_lock(database, await second_pid)
        assert not task.done()  # the duplicate waits for the first transaction to end

        await remember(session, scope=scope, key="k1", result_status=201, body={"by": 1})

    stored = await asyncio.wait_for(task, WAIT_SECONDS)
    assert stored == StoredResult(status_code=201, body={"by": 1})
    assert executions == 1


async def test_an_expired_record_is_replaced(database: Database) -> None:
    scope = unique_scope()
    old = request_fingerprint("POST", "/refunds", {"amount": 5})
    assert await claim_and_execute(database, scope, "k1", old, {"id": "r-1"}) is None
    async with database.transaction() as session:
        await session.execute(
            text(
                "UPDATE idempotency_key SET expires_at = now() - interval '1 second'"
                " WHERE scope = :scope"
            ),
            {"scope": scope},
        )

    new = request_fingerprint("POST", "/refunds", {"amount": 7})  # even a different request
    assert await claim_and_execute(database, scope, "k1", new, {"id": "r-2"}) is None
    assert await claim_and_execute(database, scope, "k1", new, {}) == StoredResult(
        201, {"id": "r-2"}
    )


async def test_purge_deletes_only_expired_records(database: Database) -> None:
    scope, fingerprint = unique_scope(), request_fingerprint("POST", "/x", None)
    for key in ("old", "fresh"):
        assert await claim_and_execute(database, scope, key, fingerprint, {}) is None
    async with database.transaction() as session:
        await session.execute(
            text(
                "UPDATE idempotency_key SET expires_at = now() - interval '1 second'"
                " WHERE scope = :scope AND key = 'old'"
            ),
            {"scope": scope},
        )
    async with database.transaction() as session:
        assert await purge_expired(session) >= 1
        keys = await session.scalars(
            text("SELECT key FROM idempotency_key WHERE scope = :scope"), {"scope": scope}
        )
        assert set(keys) == {"fresh"}


async def test_scopes_are_independent(database: Database) -> None:
    fingerprint = request_fingerprint("POST", "/checkins", {"ticket": "t"})
    for scope in (unique_scope(), unique_scope()):
        assert await claim_and_execute(database, scope, "shared", fingerprint, {}) is None


class Order(BaseModel):
    qty: int
    note: str | None = None


def test_fingerprint_is_canonical() -> None:
    assert request_fingerprint("post", "/o", {"a": 1, "b": [1, 2]}) == request_fingerprint(
        "POST", "/o", {"b": [1, 2], "a": 1}
    )
    assert request_fingerprint("POST", "/o", Order(qty=1)) == request_fingerprint(
        "POST", "/o", {"qty": 1, "note": None}
    )
    assert request_fingerprint("POST", "/o", {"a": 1}) != request_fingerprint(
        "POST", "/p", {"a": 1}
    )


def test_replaying_a_no_content_result_has_no_body() -> None:
    response = replay_response(StoredResult(204, None))
    assert (response.status_code, response.body) == (204, b"")
    assert response.headers["Idempotent-Replayed"] == "true"


async def test_the_header_is_validated() -> None:
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/echo")
    async def echo(idempotency_key: IdempotencyKeyHeader = None) -> dict:
        return {"key": idempotency_key}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        assert (await http.post("/echo")).json() == {"key": None}
        ok = await http.post("/echo", headers={"Idempotency-Key": "a1b2-c3"})
        assert ok.json() == {"key": "a1b2-c3"}
        for bad in (b"x" * 256, "caf\u00e9".encode(), b"tab\there"):
            response = await http.post("/echo", headers={"Idempotency-Key": bad})
            assert response.status_code == 422
            assert response.json()["type"] == "urn:ticketing:problem:validation-error"
