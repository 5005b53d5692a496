"""Which database errors mean "PostgreSQL cannot be reached" (a 503 the client may retry)
and which are bugs or bad input (a 500, a 409, a 422)."""

from __future__ import annotations

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_dbapi

from kernel.db.availability import (
    DatabaseUnreachable,
    caused_by_unavailable_database,
    database_unavailable,
)


class _Driver(AsyncAdapt_asyncpg_dbapi.Error):
    def __init__(self, sqlstate: str | None) -> None:
        super().__init__("driver error")
        self.sqlstate = sqlstate


def _wrapped(orig: Exception, *, invalidated: bool = False) -> sa_exc.DBAPIError:
    return sa_exc.DBAPIError.instance(
        "SELECT 1", {}, orig, AsyncAdapt_asyncpg_dbapi.Error, connection_invalidated=invalidated
    )


@pytest.mark.parametrize(
    "error",
    [
        _wrapped(DatabaseUnreachable("cannot connect", ConnectionRefusedError())),
        _wrapped(_Driver(None), invalidated=True),  # broke in the middle of a statement
        _wrapped(_Driver("57P01")),  # terminated by an administrator (a restart)
        _wrapped(_Driver("57P03")),  # starting up
        _wrapped(_Driver("08006")),  # connection failure
        _wrapped(_Driver("53300")),  # too many connections
        sa_exc.TimeoutError("QueuePool limit reached"),
    ],
)
def test_an_outage_is_recognised(error: Exception) -> None:
    assert database_unavailable(error)


def test_a_failed_connect_is_wrapped_as_sqlalchemy_wraps_any_operational_error() -> None:
    assert isinstance(_wrapped(DatabaseUnreachable("x", None)), sa_exc.OperationalError)


@pytest.mark.parametrize(
    "error",
    [
        _wrapped(_Driver("23505")),  # unique violation: a conflict
        _wrapped(_Driver("22021")),  # a NUL character: bad input
        _wrapped(_Driver("42P01")),  # undefined table: a bug
        ValueError("not the database"),
        ConnectionRefusedError("some other service"),
    ],
)
def test_other_errors_are_not_an_outage(error: Exception) -> None:
    assert not database_unavailable(error)
    assert not caused_by_unavailable_database(error)


def test_an_outage_wrapped_by_other_code_is_still_an_outage() -> None:
    try:
        try:
            raise _wrapped(_Driver("57P01"))
        except sa_exc.DBAPIError as exc:
            raise RuntimeError("a plugin hook failed") from exc
    except RuntimeError as wrapper:
        assert caused_by_unavailable_database(wrapper)
