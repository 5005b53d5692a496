"""Counting the hold ledger for reports: reads only, nothing on the hold path.

Every hold a buyer places stays a row of ``inventory_hold`` (released, expired or
converted, never deleted), so how many holds an event saw is a count of its rows,
taken when a report asks instead of a counter bumped in the flash-sale hot path.
"""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from builtin_plugins.events.models import InventoryHold


async def holds_placed(
    session: AsyncSession, *, organization_id: uuid.UUID, event_id: uuid.UUID
) -> tuple[int, int]:
    """(holds, units) the event's ledger holds: every hold and direct sale, whatever
    became of it."""
    row = (
        await session.execute(
            select(func.count(), func.coalesce(func.sum(InventoryHold.quantity), 0)).where(
                InventoryHold.organization_id == organization_id,
                InventoryHold.event_id == event_id,
            )
        )
    ).one()
    return int(row[0]), int(row[1])
