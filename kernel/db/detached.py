"""Rows as detached copies: read on the caller's connection, never put in its session.

A per-process cache keeps such copies and hands the same ones to concurrent requests;
reading them never touches a session (no lazy load, no flush, no identity map), and
loading them needs no second connection, so a cache miss inside a transaction cannot
wait on the pool for itself. Read the copies only.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from sqlalchemy import inspect, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapper

Model = TypeVar("Model")


@functools.lru_cache(maxsize=512)
def _attribute_names(model: type) -> tuple[Any, tuple[tuple[str, str], ...]]:
    """(mapper, per column attribute: (column name, attribute name)), once per model."""
    mapper: Mapper[Any] = inspect(model)
    return mapper, tuple((prop.columns[0].name, prop.key) for prop in mapper.column_attrs)


def detached_copy(model: type[Model], values: Mapping[str, Any]) -> Model:
    """An instance of ``model`` whose columns hold ``values`` (by column name) as if
    loaded; columns missing from ``values`` are left unset.

    The values go straight into the instance's dict, as the ORM's loader puts them: a
    new instance has no history to clear, so this is what setting each value as
    committed comes to, without an attribute event per column."""
    model_class: type = model  # a class is hashable, whatever mypy makes of type[Model]
    mapper, names = _attribute_names(model_class)
    row = mapper.class_manager.new_instance()
    row.__dict__.update({key: values[name] for name, key in names if name in values})
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
