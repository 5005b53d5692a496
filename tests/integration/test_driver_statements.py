"""Statements sent straight to asyncpg (kernel.db.fetch/fetch_one) behave, for a caller,
as ``session.execute`` would: same transaction, same exceptions, same outage handling."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import Column, Integer, MetaData, String, Table, exc, insert, text

from kernel.db import Database, fetch, fetch_one
from kernel.db.availability import database_unavailable


@pytest.fixture
async def probe(database: Database) -> AsyncIterator[str]:
    """A throwaway table, so the tests depend on no app table."""
    name = f"driver_probe_{uuid.uuid4().hex}"
    async with database.engine.begin() as connection:
        await connection.execute(
            text(
                f"CREATE TABLE IF NOT EXISTS {name} (id integer PRIMARY KEY, name text, label text)"
            )
        )
    try:
        yield name
    finally:
        async with database.engine.begin() as connection:
            await connection.execute(text(f"DROP TABLE IF EXISTS {name}"))


async def stored(database: Database, table: str) -> list[tuple]:
    """The table's rows as another connection sees them."""
    async with database.engine.connect() as connection:
        result = await connection.execute(text(f"SELECT id, name, label FROM {table} ORDER BY id"))
        return [tuple(row) for row in result]


def statements_sent() -> float:
    return REGISTRY.get_sample_value("ticketing_db_statements_total")


async def test_named_parameters_and_rows_by_name_and_position(database: Database) -> None:
    async with database.transaction() as session:
        rows = await fetch(
            session,
            text("SELECT n, :word AS word FROM generate_series(1, :upto) AS n ORDER BY n"),
            {"word": "hello", "upto": 3},
        )
        assert [(row["n"], row["word"]) for row in rows] == [
            (1, "hello"),
            (2, "hello"),
            (3, "hello"),
        ]
        assert rows[2][0] == 3 and rows[2][1] == "hello"
        one = await fetch_one(
            session,
            text("SELECT CAST(:a AS integer) + CAST(:b AS integer) AS total"),
            {"a": 2, "b": 40},
        )
        assert one["total"] == 42 and one[0] == 42


async def test_fetch_one_needs_exactly_one_row(database: Database) -> None:
    async with database.transaction() as session:
        with pytest.raises(exc.NoResultFound):
            await fetch_one(session, text("SELECT 1 WHERE false"))
        with pytest.raises(exc.MultipleResultsFound):
            await fetch_one(session, text("SELECT generate_series(1, 2)"))


async def test_a_rolled_back_transaction_leaves_no_row(database: Database, probe: str) -> None:
    with pytest.raises(RuntimeError):
        async with database.transaction() as session:
            await fetch(session, text(f"INSERT INTO {probe} (id, name) VALUES (1, 'gone')"))
            raise RuntimeError("roll back")
    assert await stored(database, probe) == []


async def test_first_statement_begins_the_session_transaction(
    database: Database, probe: str
) -> None:
    """BEGIN is deferred to the first statement: fetch must begin the very transaction the
    session's later statements run in, and commit must store what it wrote."""
    async with database.transaction() as session:
        rows = await fetch(
            session,
            text(f"INSERT INTO {probe} (id, name) VALUES (:id, :name) RETURNING txid_current()"),
            {"id": 1, "name": "first"},
        )
        seen = (await session.execute(text(f"SELECT name FROM {probe} WHERE id = 1"))).scalar()
        assert seen == "first"
        assert await session.scalar(text("SELECT txid_current()")) == rows[0][0]
        assert await stored(database, probe) == []  # not committed yet
    assert await stored(database, probe) == [(1, "first", None)]


async def test_on_an_autocommit_connection_each_fetch_commits(
    database: Database, probe: str
) -> None:
    async with database.autocommit() as connection:
        await fetch(connection, text(f"INSERT INTO {probe} (id, name) VALUES (1, 'a')"))
        assert await stored(database, probe) == [(1, "a", None)]
        await fetch(connection, text(f"INSERT INTO {probe} (id, name) VALUES (2, 'b')"))
        assert await stored(database, probe) == [(1, "a", None), (2, "b", None)]


async def test_each_transaction_of_a_session_gets_its_own_statements(
    database: Database, probe: str
) -> None:
    """The connection a session's first fetch found is kept for that transaction only:
    after a commit, and after a rollback, fetch runs in the session's new transaction."""
    insert = text(f"INSERT INTO {probe} (id, name) VALUES (:id, 'x') RETURNING txid_current()")
    async with database.sessions() as session:
        async with session.begin():
            first = (await fetch(session, insert, {"id": 1}))[0][0]
            assert (await fetch(session, text("SELECT txid_current()")))[0][0] == first
        async with session.begin():
            second = (await fetch(session, insert, {"id": 2}))[0][0]
            assert second != first
            assert await session.scalar(text("SELECT txid_current()")) == second
        transaction = await session.begin()
        await fetch(session, insert, {"id": 3})
        await transaction.rollback()
        async with session.begin():
            await fetch(session, insert, {"id": 4})
    assert [row[0] for row in await stored(database, probe)] == [1, 2, 4]


async def raised_both_ways(database: Database, statement) -> tuple[Exception, Exception]:
    """What fetch and session.execute raise for the same statement, each in its own
    transaction; after fetch's error the session must roll back and work again."""
    async with database.sessions() as session:
        with pytest.raises(exc.DBAPIError) as by_fetch:
            await fetch(session, statement)
        await session.rollback()
        assert await session.scalar(text("SELECT 1")) == 1
        with pytest.raises(exc.DBAPIError) as by_execute:
            await session.execute(statement)
        await session.rollback()
    return by_fetch.value, by_execute.value


async def test_a_unique_violation_is_an_integrity_error(database: Database, probe: str) -> None:
    async with database.transaction() as session:
        await session.execute(text(f"INSERT INTO {probe} (id, name) VALUES (1, 'taken')"))
    by_fetch, by_execute = await raised_both_ways(
        database, text(f"INSERT INTO {probe} (id, name) VALUES (1, 'again')")
    )
    assert isinstance(by_fetch, exc.IntegrityError)
    assert type(by_fetch) is type(by_execute)
    assert type(by_fetch.orig) is type(by_execute.orig)
    assert by_fetch.orig.sqlstate == by_execute.orig.sqlstate == "23505"
    assert await stored(database, probe) == [(1, "taken", None)]


@pytest.mark.parametrize(
    "sql", ["SELEC 1", "SELECT no_such_column FROM {probe}"], ids=["syntax", "undefined"]
)
async def test_a_wrong_statement_raises_what_execute_raises(
    database: Database, probe: str, sql: str
) -> None:
    by_fetch, by_execute = await raised_both_ways(database, text(sql.format(probe=probe)))
    assert isinstance(by_fetch, exc.ProgrammingError)
    assert type(by_fetch) is type(by_execute)
    assert by_fetch.orig.sqlstate == by_execute.orig.sqlstate
    assert not database_unavailable(by_fetch)  # a wrong statement is no outage


def probe_table(name: str) -> Table:
    """The probe table with a Python-side default, computed only as an insert executes."""
    return Table(
        name,
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("name", String),
        Column("label", String, default=lambda: "computed"),
    )


async def test_an_insert_with_a_python_default_writes_it(database: Database, probe: str) -> None:
    table = probe_table(probe)
    async with database.transaction() as session:
        rows = await fetch(
            session, insert(table).values(id=1, name="x").returning(table.c.id, table.c.label)
        )
        assert [tuple(row) for row in rows] == [(1, "computed")]
    assert await stored(database, probe) == [(1, "x", "computed")]


async def test_an_insert_with_a_python_default_and_no_returning(
    database: Database, probe: str
) -> None:
    """Without RETURNING the driver path answers [] for an insert; the fallback must too."""
    table = probe_table(probe)
    async with database.transaction() as session:
        # the driver path (no Python default to compute): no rows
        assert list(await fetch(session, text(f"INSERT INTO {probe} (id) VALUES (1)"))) == []
        assert list(await fetch(session, insert(table).values(id=2, name="y"))) == []
    assert await stored(database, probe) == [(1, None, None), (2, "y", "computed")]


async def test_each_fetch_counts_one_statement(database: Database, probe: str) -> None:
    async with database.transaction() as session:
        await session.connection()
        before = statements_sent()
        await fetch(session, text("SELECT 1"))  # the first also begins the transaction
        assert statements_sent() - before == 1
        await fetch(session, text(f"INSERT INTO {probe} (id) VALUES (:id)"), {"id": 1})
        assert statements_sent() - before == 2
        await fetch_one(session, text(f"SELECT id FROM {probe}"))
        assert statements_sent() - before == 3


async def test_a_terminated_backend_is_an_outage_and_the_pool_recovers(
    database_url: str,
) -> None:
    """A server that dropped the connection must read as unavailable (503, not 500) and be
    invalidated, so the next session connects afresh instead of failing again."""
    database = Database(database_url, pool_size=2, max_overflow=0)
    try:
        async with database.sessions() as session:
            pid = (await fetch_one(session, text("SELECT pg_backend_pid() AS pid")))["pid"]
            async with database.engine.connect() as other:
                # the timeout makes it wait until the backend has really gone
                terminated = await other.scalar(
                    text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid}
                )
                assert terminated is True
            with pytest.raises(exc.DBAPIError) as raised:
                await fetch(session, text("SELECT 1"))
            assert database_unavailable(raised.value)
            assert raised.value.connection_invalidated
        async with database.transaction() as session:
            fresh = await fetch_one(session, text("SELECT pg_backend_pid() AS pid"))
            assert fresh["pid"] != pid
            assert await session.scalar(text("SELECT 1")) == 1
    finally:
        await database.dispose()


async def test_a_missing_parameter_is_refused_before_anything_is_sent(
    database: Database, probe: str
) -> None:
    """As with session.execute, a parameter without a value is an error, not a NULL."""
    async with database.transaction() as session:
        with pytest.raises(exc.InvalidRequestError, match="'name'"):
            await fetch(
                session, text(f"INSERT INTO {probe} (id, name) VALUES (:id, :name)"), {"id": 1}
            )
    assert await stored(database, probe) == []
