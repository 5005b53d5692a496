"""Steering the outbox from a test: hand an event to a consumer again as if its delivery
had been lost, count its deliveries, or skip a retry's back-off."""

from __future__ import annotations

import uuid

from sqlalchemy import text

from kernel.db import Database


async def redeliver(database: Database, event_id: uuid.UUID, consumer: str) -> None:
    """Forget that ``consumer`` got the event and make the event due: the relay hands it
    to the consumer again."""
    async with database.transaction() as session:
        await session.execute(
            text("DELETE FROM outbox_delivery WHERE event_id = :id AND consumer = :consumer"),
            {"id": event_id, "consumer": consumer},
        )
        await session.execute(
            text(
                "UPDATE outbox_event SET dispatched_at = NULL, next_attempt_at = now() "
                "WHERE id = :id"
            ),
            {"id": event_id},
        )


async def deliveries(database: Database, event_id: uuid.UUID, consumer: str) -> int:
    """How many deliveries of the event to ``consumer`` are recorded (one at most)."""
    async with database.transaction() as session:
        return await session.scalar(
            text("SELECT count(*) FROM outbox_delivery WHERE event_id = :id AND consumer = :c"),
            {"id": event_id, "c": consumer},
        )


async def due_now(database: Database, event_id: uuid.UUID) -> None:
    """Make a failed event due at once instead of after its back-off."""
    async with database.transaction() as session:
        await session.execute(
            text("UPDATE outbox_event SET next_attempt_at = now() WHERE id = :id"),
            {"id": event_id},
        )
