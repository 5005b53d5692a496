"""The one list shape of the API, and keyset pagination cursors.

Every list answers ``{"items": [...]}``; a paged list adds ``next_cursor`` (pass it back
as ``cursor`` for the next page; ``null`` on the last page) and ``total`` (how many rows
match the filters, over every page).

Cursors are ``(created_at, id)`` of the last row a page showed: opaque to clients
(URL-safe base64), stable under inserts, and cheap on an index of the same two columns,
unlike ``OFFSET``. :func:`keyset_page` reads one such page, newest first, with its total.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field
from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from kernel.problems import UnprocessableContent

Item = TypeVar("Item")
Row = TypeVar("Row")


class ItemList(BaseModel, Generic[Item]):
    """A complete, unpaged list."""

    items: list[Item]


class Page(BaseModel, Generic[Item]):
    """One page of a longer list."""

    items: list[Item]
    next_cursor: str | None = Field(
        description="pass as `cursor` for the next page; null on the last page"
    )
    total: int = Field(description="how many items match the filters, over every page")


def encode_cursor(created_at: datetime, row_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(f"{created_at.isoformat()}|{row_id}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """422 for anything this API did not give out."""
    try:
        created_at, row_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        return datetime.fromisoformat(created_at), uuid.UUID(row_id)
    except ValueError as exc:
        raise UnprocessableContent("The cursor is not one this API gave out.") from exc


@dataclass(frozen=True)
class RowsPage(Generic[Row]):
    """One page of rows, before they are shown."""

    rows: list[Row]
    next_cursor: str | None
    total: int

    def page(self, items: Sequence[Item]) -> Page[Item]:
        return Page(items=list(items), next_cursor=self.next_cursor, total=self.total)

    def shown(self, view: Callable[[Row], Item]) -> Page[Item]:
        return self.page([view(row) for row in self.rows])


async def keyset_page(
    session: AsyncSession,
    query: Select,
    *,
    at: InstrumentedAttribute,
    row_id: InstrumentedAttribute,
    cursor: str | None,
    limit: int,
) -> RowsPage[Any]:
    """The page of ``query`` (one entity, its filters applied) after ``cursor``, newest
    first on ``(at, row_id)``, and how many rows match over every page."""
    total = await session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    if cursor:
        last_at, last_id = decode_cursor(cursor)
        query = query.where(or_(at < last_at, and_(at == last_at, row_id < last_id)))
    found = list(await session.scalars(query.order_by(at.desc(), row_id.desc()).limit(limit + 1)))
    rows = found[:limit]
    next_cursor = None
    if len(found) > limit:
        next_cursor = encode_cursor(getattr(rows[-1], at.key), getattr(rows[-1], row_id.key))
    return RowsPage(rows=rows, next_cursor=next_cursor, total=int(total or 0))
