"""The one list shape of the API, and keyset pagination cursors.

Every list answers ``{"items": [...]}``; a paged list adds ``next_cursor`` (pass it back
as ``cursor`` for the next page; ``null`` on the last page) and ``total`` (how many rows
match the filters, over every page).

Cursors are ``(created_at, id)`` of the last row a page showed: opaque to clients
(URL-safe base64), stable under inserts, and cheap on an index of the same two columns,
unlike ``OFFSET``.
"""

from __future__ import annotations

import base64
import uuid
from datetime import datetime
from typing import Generic, TypeVar

from pydantic import BaseModel, Field

from kernel.problems import UnprocessableContent

Item = TypeVar("Item")


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
