"""Hot statements sent straight to asyncpg, on the session's own connection and transaction.

``session.execute`` costs far more Python than the round trip on a short statement: the
ORM session's bookkeeping, a cache key walked over the whole statement, an execution
context, a greenlet hop and a result object, each time. On the buying path (a hold, a
checkout's few statements) that was most of a request's CPU. :func:`fetch` compiles a
Core or ``text()`` statement once per dialect, then per call only orders the parameters,
applies the types' bind conversions and hands the SQL to asyncpg (which keeps it
prepared per connection).

It stays in the session's transaction: the connection is the one the session holds (found
once per transaction, then kept in ``session.info``), and a transaction the session has
not begun yet (the asyncpg adapter defers ``BEGIN`` to the first statement) is begun
exactly as the adapter would. A Core ``AsyncConnection`` may be given instead of a
session (:meth:`Database.autocommit` hands one out): no ORM session is made for a write
that is one statement. Errors come out as
SQLAlchemy's (``IntegrityError``, ``OperationalError`` ...), and a lost connection
invalidates the pool as ``session.execute`` would, so callers and the 503 mapping of an
outage see no difference. Rows come back as asyncpg records (by name or position); the
statement's result types are not applied, so it suits statements returning plain columns
(``text()`` or columns without a custom type).

The adapter's attributes used here (``_transaction``, ``_start_transaction``,
``_handle_exception``) belong to the pinned SQLAlchemy version; without them every call
falls back to ``session.execute``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import CursorResult, Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from kernel.metrics import DB_STATEMENTS

#: What :func:`fetch` runs on: an ORM session's transaction, or a Core connection.
Executor = AsyncSession | AsyncConnection


@dataclass(frozen=True, slots=True)
class _Plan:
    """A statement compiled for asyncpg: its SQL, and how to turn named parameters into
    positional, converted values."""

    sql: str
    defaults: Mapping[str, Any]
    order: tuple[str, ...]
    converters: tuple[Any, ...]

    def arguments(self, params: Mapping[str, Any]) -> list[Any]:
        values = {**self.defaults, **params} if self.defaults else params
        try:
            return [
                convert(values[name]) if convert is not None else values[name]
                for name, convert in zip(self.order, self.converters, strict=True)
            ]
        except KeyError as missing:
            raise sa_exc.InvalidRequestError(
                f"A value is required for bind parameter {missing.args[0]!r}"
            ) from None


_PLANS: dict[tuple[int, str], tuple[Any, _Plan | None]] = {}


def _plan(statement: Any, dialect: Dialect) -> _Plan | None:
    """The compiled form of ``statement``, kept for the process (the statement object is
    held too, so its id cannot be reused by another); None for a statement whose column
    defaults are computed as it executes, which only ``session.execute`` does."""
    key = (id(statement), dialect.name)
    found = _PLANS.get(key)
    if found is not None:
        return found[1]
    if len(_PLANS) >= 4096:  # statements are module constants or cached builds: few
        _PLANS.clear()
    compiled = statement.compile(dialect=dialect)
    if compiled.insert_prefetch or compiled.update_prefetch:
        _PLANS[key] = (statement, None)
        return None
    order = tuple(compiled.positiontup or ())
    processors = compiled._bind_processors
    # values the statement carries itself (literal binds, column defaults); a parameter
    # without one must be given, as with session.execute
    defaults = {
        name: value
        for name, value in compiled.construct_params(_check=False).items()
        if name in compiled.binds and not compiled.binds[name].required
    }
    plan = _Plan(
        sql=compiled.string,
        defaults=defaults,
        order=order,
        converters=tuple(processors.get(name) for name in order),
    )
    _PLANS[key] = (statement, plan)
    return plan


@functools.cache
def _offers_what_fetch_needs(adapter: type) -> bool:
    """Whether connections of this adapter class have what :func:`fetch` uses (asked once
    per class, not per statement)."""
    needed = ("_transaction", "_start_transaction", "_handle_exception", "_connection")
    return all(hasattr(adapter, name) for name in needed)


async def _adapted(connection: AsyncConnection) -> Any | None:
    """The asyncpg adapter of ``connection`` when it offers what :func:`fetch` needs."""
    raw = await connection.get_raw_connection()
    adapted: Any = raw.dbapi_connection  # the adapter's private attributes are untyped
    return adapted if _offers_what_fetch_needs(adapted.__class__) else None


_SESSION_KEY = "ticketing.driver"

# While OpenTelemetry tracing is on (kernel.telemetry), the tracer of these statements:
# they bypass SQLAlchemy's execution, and so its instrumentation.
_tracer: Any = None


def trace_statements(tracer: Any) -> None:
    """Give each statement :func:`fetch` sends a span of ``tracer`` (``None``: none)."""
    global _tracer
    _tracer = tracer


def _statement_span(sql: str) -> Any:
    """A client span named as SQLAlchemy's instrumentation names one (the first word)."""
    from opentelemetry.trace import SpanKind

    return _tracer.start_as_current_span(
        sql.split(None, 1)[0] if sql.strip() else "postgresql",
        kind=SpanKind.CLIENT,
        attributes={"db.system": "postgresql", "db.statement": sql},
    )


async def _connection_of(executor: Executor) -> tuple[AsyncConnection, Any | None]:
    """The connection ``executor`` runs on and its adapter. A session's are looked up
    once per transaction: later statements of the same transaction reuse them."""
    if isinstance(executor, AsyncConnection):
        return executor, await _adapted(executor)
    transaction = executor.sync_session.get_transaction()
    kept = executor.info.get(_SESSION_KEY)
    if kept is not None and transaction is not None and kept[0] is transaction:
        connection = kept[1]
        if transaction.is_active and not connection.sync_connection.invalidated:
            return connection, kept[2]
    connection = await executor.connection()
    adapted = await _adapted(connection)
    executor.info[_SESSION_KEY] = (executor.sync_session.get_transaction(), connection, adapted)
    return connection, adapted


async def fetch(
    executor: Executor, statement: Any, params: Mapping[str, Any] | None = None
) -> Sequence[Any]:
    """Run ``statement`` with ``params`` in the transaction of ``executor`` (a session, or a
    Core connection); its rows (asyncpg records). See the module for when this is the
    right call."""
    params = params or {}
    connection, adapted = await _connection_of(executor)
    plan = None if adapted is None else _plan(statement, connection.dialect)
    if adapted is None or plan is None:
        result = cast("CursorResult[Any]", await executor.execute(statement, params))
        return result.all() if result.returns_rows else []
    arguments = plan.arguments(params)
    DB_STATEMENTS.inc()
    try:
        if adapted._transaction is None:
            await adapted._start_transaction()  # a no-op on an autocommit connection
        if _tracer is None:
            return await adapted._connection.fetch(plan.sql, *arguments)
        with _statement_span(plan.sql):
            return await adapted._connection.fetch(plan.sql, *arguments)
    except Exception as error:
        raise await _translated(connection, adapted, plan.sql, arguments, error) from error


async def fetch_one(
    executor: Executor, statement: Any, params: Mapping[str, Any] | None = None
) -> Any:
    """The one row of :func:`fetch` (``NoResultFound``/``MultipleResultsFound`` else)."""
    rows = await fetch(executor, statement, params)
    if not rows:
        raise sa_exc.NoResultFound("No row was found when one was required")
    if len(rows) > 1:
        raise sa_exc.MultipleResultsFound("Multiple rows were found when one was required")
    return rows[0]


async def _translated(
    connection: AsyncConnection, adapted: Any, sql: str, arguments: list[Any], error: Exception
) -> Exception:
    """SQLAlchemy's exception for the driver's ``error``, as ``session.execute`` raises it;
    a disconnect invalidates the pool, so the next requests connect afresh."""
    dialect = connection.dialect
    dbapi_error_class = dialect.loaded_dbapi.Error
    try:
        adapted._handle_exception(error)
    except dbapi_error_class as dbapi_error:
        disconnect = dialect.is_disconnect(dbapi_error, adapted, None)
        if disconnect:
            await connection.invalidate(dbapi_error)
            await connection.engine.dispose(close=False)
        return sa_exc.DBAPIError.instance(
            sql,
            arguments,
            dbapi_error,
            dbapi_error_class,
            connection_invalidated=disconnect,
            dialect=dialect,
        )
    except Exception as other:  # not a driver error: a bug, raised as it is
        return other
    return error
