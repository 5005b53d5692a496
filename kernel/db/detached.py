"""Rows as detached copies: read on the caller's connection, never put in its session.

A per-process cache keeps such copies and hands the same ones to concurrent requests;
reading them never touches a session (no lazy load, no flush, no identity map), and
loading them needs no second connection, so a cache miss inside a transaction cannot
wait on the pool for itself. Read the copies only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from sqlalchemy import inspect, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

Model = TypeVar("Model")


def detached_copy(model: type[Model], values: Mapping[str, Any]) -> Model:
    """An instance of ``model`` whose columns hold ``values`` (by column name) as if
    loaded; columns missing from ``values`` are left unset."""
    mapper = inspect(model)
    row = mapper.class_manager.new_instance()
    for prop in mapper.column_attrs:
        name = prop.columns[0].name
        if name in values:
            set_committed_value(row, prop.key, values[name])
    return row


async def read_detached(
    session: AsyncSession,
    model: type[Model],
    *criteria: Any,
    order_by: Iterable[Any] = (),
) -> list[Model]:
    """The rows of ``model`` matching ``criteria`` as detached copies (computed columns,
    such as search vectors, left out)."""
    mapper = inspect(model)
    columns = [prop.columns[0] for prop in mapper.column_attrs if prop.columns[0].computed is None]
    query = select(*columns).where(*criteria).order_by(*order_by)
    rows = (await session.execute(query)).mappings().all()
    return [detached_copy(model, {column.name: row[column] for column in columns}) for row in rows]
