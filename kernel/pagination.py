"""Keyset pagination cursors: ``(created_at, id)`` of the last row a page showed.

Opaque to clients (URL-safe base64), stable under inserts, and cheap on an index of the
same two columns, unlike ``OFFSET``.
"""

from __future__ import annotations

import base64
import uuid
from datetime import datetime

from kernel.problems import UnprocessableContent


def encode_cursor(created_at: datetime, row_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(f"{created_at.isoformat()}|{row_id}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """422 for anything this API did not give out."""
    try:
        created_at, row_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        return datetime.fromisoformat(created_at), uuid.UUID(row_id)
    except ValueError as exc:
        raise UnprocessableContent("The cursor is not one this API gave out.") from exc
