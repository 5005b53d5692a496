"""Telling "PostgreSQL cannot be reached right now" apart from every other database error.

A restarted, crashed or unreachable server is an outage the client can retry after (503),
not a bug (500). SQLAlchemy lets a failed *connect* through as whatever the driver raised
(``ConnectionRefusedError``, a timeout, asyncpg's "the database system is starting up"):
:func:`install_connect_errors` turns those into :class:`DatabaseUnreachable`, a DBAPI
``OperationalError`` SQLAlchemy wraps like any other, so that :func:`database_unavailable`
recognises every outage by one test.
"""

from __future__ import annotations

import asyncpg
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_dbapi
from sqlalchemy.ext.asyncio import AsyncEngine

# admin_shutdown, crash_shutdown, cannot_connect_now (starting up or shutting down),
# too_many_connections; class 08 is "connection exception".
UNAVAILABLE_STATES = frozenset({"57P01", "57P02", "57P03", "53300"})


class DatabaseUnreachable(AsyncAdapt_asyncpg_dbapi.OperationalError):
    """A connection to PostgreSQL could not be opened."""


def install_connect_errors(engine: AsyncEngine) -> None:
    """Make a failed connect of ``engine`` raise :class:`DatabaseUnreachable` (wrapped by
    SQLAlchemy in ``OperationalError``) instead of the driver's bare exception."""

    @event.listens_for(engine.sync_engine, "do_connect")
    def connect(dialect, connection_record, cargs, cparams):
        try:
            return dialect.connect(*cargs, **cparams)
        except AsyncAdapt_asyncpg_dbapi.Error:
            raise
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            state = getattr(exc, "sqlstate", None)
            if isinstance(exc, asyncpg.PostgresError) and not _unavailable_state(state):
                raise  # e.g. a wrong password or database name: configuration, not an outage
            raise DatabaseUnreachable(f"cannot connect to PostgreSQL: {exc}", exc) from exc


def _unavailable_state(state: str | None) -> bool:
    return state is not None and (state.startswith("08") or state in UNAVAILABLE_STATES)


def database_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says PostgreSQL is down or unreachable (or the pool has no
    connection to give), rather than that a statement was wrong."""
    if isinstance(exc, sa_exc.TimeoutError):  # no pooled connection came free in time
        return True
    if not isinstance(exc, sa_exc.DBAPIError):
        return False
    if exc.connection_invalidated or isinstance(exc.orig, DatabaseUnreachable):
        return True
    return _unavailable_state(getattr(exc.orig, "sqlstate", None))


def caused_by_unavailable_database(exc: BaseException) -> bool:
    """:func:`database_unavailable` of ``exc`` or of any exception it was raised from
    (a plugin or helper that wrapped the database's error)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if database_unavailable(current):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False
