"""New rows of several tables written in one round trip.

The unit of work sends one ``INSERT`` per table (an order, its first transition, its
lines, a domain event: four round trips, each an event-loop turn under load).
:func:`insert_new` writes every new object of the session in one statement instead: one
data-modifying CTE per object, so foreign keys are checked as the statement ends, when
every row exists. The objects then become persistent as a flush leaves them, so later
changes to them flush as ``UPDATE`` as usual.

:func:`new_row` builds such an object the way the ORM builds a row it loads, straight into
the instance's dict: the instrumented constructor fires an event and records history per
attribute (five calls or so each), which a row inserted whole never needs; a checkout
builds five kinds of rows with some sixty values in all.

Values are complete before the statement is sent: a Python-side default is computed
here, and a server default of ``now()`` is the transaction's timestamp, which the same
statement returns (``now()`` is the same for the whole transaction). Anything else --
changed or deleted objects pending, another server default, a SQL-expression default,
inheritance -- is left to the ordinary flush, so the result is always what
``session.flush()`` would have written.
"""

from __future__ import annotations

import functools
from typing import Any, TypeVar

from sqlalchemy import bindparam, func, insert, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlalchemy.orm.base import instance_state

from kernel.db.driver import fetch_one

_Model = TypeVar("_Model")

_NOW = ("now()", "current_timestamp", "CURRENT_TIMESTAMP")


class _Unsupported(Exception):
    """An object the ordinary flush must write."""


def _server_now(column: Any) -> bool:
    default = column.server_default
    text = str(getattr(default, "arg", "")).strip()
    return text in _NOW or getattr(getattr(default, "arg", None), "name", None) == "now"


# How each column of a row gets its value when the object does not set it.
_GIVEN_OR_NONE, _SCALAR, _CALLABLE, _NOW_STAMP, _FLUSH_ONLY = range(5)


@functools.lru_cache(maxsize=512)
def _columns(mapper: Any) -> tuple[Any, tuple[tuple[str, str, int, Any], ...]]:
    """(table, per column: attribute, column, default kind, default), worked out once per
    model; raises :class:`_Unsupported` for what only the flush can write."""
    if mapper.inherits is not None or len(mapper.tables) != 1:
        raise _Unsupported
    columns = []
    for prop in mapper.column_attrs:
        column = prop.columns[0]
        if column.computed is not None:
            continue
        default = column.default
        if default is not None:
            if default.is_scalar:
                columns.append((prop.key, column.key, _SCALAR, default.arg))
            elif default.is_callable:
                columns.append((prop.key, column.key, _CALLABLE, default.arg))
            else:
                columns.append((prop.key, column.key, _FLUSH_ONLY, None))
        elif column.server_default is not None:
            kind = _NOW_STAMP if _server_now(column) else _FLUSH_ONLY
            columns.append((prop.key, column.key, kind, None))
        else:
            columns.append((prop.key, column.key, _GIVEN_OR_NONE, None))
    return mapper.local_table, tuple(columns)


def _values(instance: Any) -> tuple[Any, dict[str, Any], dict[str, Any], list[str]]:
    """(table, column values to insert, attributes to set, attributes that take now())."""
    table, columns = _columns(inspect(instance).mapper)
    given = instance.__dict__
    values: dict[str, Any] = {}
    computed: dict[str, Any] = {}
    stamped: list[str] = []
    for key, column_key, kind, default in columns:
        if key in given:
            values[column_key] = given[key]
            continue
        if kind == _SCALAR:
            value = default
        elif kind == _CALLABLE:
            value = default(None)
        elif kind == _NOW_STAMP:
            stamped.append(key)
            continue
        elif kind == _FLUSH_ONLY:
            raise _Unsupported
        else:
            value = None
        values[column_key] = value
        computed[key] = value
    return table, values, computed, stamped


@functools.lru_cache(maxsize=256)
def _statement(shape: tuple[tuple[Any, tuple[str, ...]], ...]) -> Any:
    """The statement for rows of these tables with these columns, built once: a
    checkout's rows have the same shape every time, so only the values change."""
    written = [
        insert(table)
        .values({key: bindparam(f"p{index}_{key}", type_=table.c[key].type) for key in keys})
        .returning(table.c[next(iter(table.primary_key)).key])
        .cte(f"new_{index}")
        for index, (table, keys) in enumerate(shape)
    ]
    counts = [select(func.count()).select_from(cte).scalar_subquery() for cte in written]
    return select(func.now(), *counts)


@functools.lru_cache(maxsize=512)
def _column_keys(mapper: Any) -> frozenset[str]:
    return frozenset(prop.key for prop in mapper.column_attrs)


def new_row(model: type[_Model], **values: Any) -> _Model:
    """A new, transient ``model`` object holding ``values`` (column attributes only), for
    :func:`insert_new` or the ordinary flush, which both insert what the object holds.
    Equivalent to ``model(**values)`` for a model whose constructor only sets attributes
    (no validators, no mutable-type tracking), at a fraction of the cost."""
    mapper = inspect(model)
    unknown = values.keys() - _column_keys(mapper)
    if unknown:
        raise TypeError(f"{model.__name__} has no columns {sorted(unknown)}")
    instance = mapper.class_manager.new_instance()
    instance.__dict__.update(values)
    return instance


async def insert_new(session: AsyncSession) -> None:
    """Write the session's new objects in one statement (see the module), or flush as
    usual when that cannot be done exactly."""
    sync = session.sync_session
    new = list(sync.new)
    if not new:
        return
    if sync.dirty or sync.deleted:
        await session.flush()
        return
    try:
        # by table, so the same rows make the same statement whatever the session's order
        plans = sorted(
            ((instance, *_values(instance)) for instance in new), key=lambda plan: plan[1].name
        )
    except _Unsupported:
        await session.flush()
        return
    shape = tuple((table, tuple(values)) for _, table, values, _, _ in plans)
    statement = _statement(shape)
    params = {
        f"p{index}_{key}": value
        for index, (_, _, values, _, _) in enumerate(plans)
        for key, value in values.items()
    }
    with sync.no_autoflush:  # the objects go in through the statement, not a flush
        row = await fetch_one(session, statement, params)
    now = row[0]
    for instance, _, _, computed, stamped in plans:
        # straight into the dict: registering takes all of it as the stored state
        instance.__dict__.update(computed)
        instance.__dict__.update(dict.fromkeys(stamped, now))
    _register_persistent(sync, {instance_state(instance) for instance, *_ in plans})


def _register_persistent(sync: Session, states: set[Any]) -> None:
    """Pending objects become persistent exactly as the flush's last step makes them:
    identity keys, the identity map, committed state, and the transaction's record of
    new objects (a rollback expunges them again). Calling the session's own step (a
    private method, pinned with SQLAlchemy) costs a third of the public detour of
    expunging, making each object detached and adding it back."""
    sync._register_persistent(states)
