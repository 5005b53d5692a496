"""A count made in a transaction (an order paid, a refund) waits for its commit: a
rollback, or a savepoint whose transaction then rolls back, counts nothing."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, Counter
from sqlalchemy import text

from kernel.db import Database
from sdk.metrics import count_on_commit


@pytest.fixture
def counter() -> Counter:
    return Counter("committed_things", "Things committed.", registry=CollectorRegistry())


def value(counter: Counter) -> float:
    return counter.collect()[0].samples[0].value


async def test_a_commit_counts_once(database: Database, counter: Counter) -> None:
    async with database.transaction() as session:
        await session.execute(text("SELECT 1"))
        count_on_commit(session, counter)
        count_on_commit(session, counter, 5)
        assert value(counter) == 0  # not before the commit
    assert value(counter) == 6
    async with database.transaction() as session:
        await session.execute(text("SELECT 1"))  # a later transaction counts nothing again
    assert value(counter) == 6


async def test_a_rollback_counts_nothing(database: Database, counter: Counter) -> None:
    with pytest.raises(RuntimeError):
        async with database.transaction() as session:
            await session.execute(text("SELECT 1"))
            count_on_commit(session, counter)
            raise RuntimeError("the sale failed")
    async with database.sessions() as session:  # the next transaction of a session
        await session.execute(text("SELECT 1"))
        await session.commit()
    assert value(counter) == 0


async def test_a_savepoint_released_waits_for_its_transaction(
    database: Database, counter: Counter
) -> None:
    with pytest.raises(RuntimeError):
        async with database.transaction() as session:
            async with session.begin_nested():
                await session.execute(text("SELECT 1"))
                count_on_commit(session, counter)
            assert value(counter) == 0
            raise RuntimeError("the transaction around it failed")
    assert value(counter) == 0

    async with database.transaction() as session:
        async with session.begin_nested():
            await session.execute(text("SELECT 1"))
            count_on_commit(session, counter)
        assert value(counter) == 0
    assert value(counter) == 1
