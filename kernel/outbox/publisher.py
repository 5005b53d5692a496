"""Writing domain events: call :func:`record_event` inside the transaction of the change."""

import uuid
from collections.abc import Mapping
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.db.together import new_row
from kernel.outbox.models import OutboxEvent
from kernel.request_context import current_request_id

NOTIFY_CHANNEL = "ticketing_outbox"  # the trigger of revision k0008 names it too


async def record_event(
    session: AsyncSession,
    topic: str,
    payload: Mapping[str, Any],
    *,
    organization_id: uuid.UUID | None = None,
) -> OutboxEvent:
    """Add a domain event to the current transaction.

    The event exists only if the transaction commits. It is written with the session's
    next flush (no round trip of its own); a trigger on the table sends the ``NOTIFY``
    (revision ``k0008``), which is transactional too, so relays on every replica wake
    exactly when the event becomes visible.
    """
    event = new_row(
        OutboxEvent,
        id=uuid.uuid4(),
        topic=topic,
        organization_id=organization_id,
        payload=to_jsonable_python(dict(payload)),
        request_id=current_request_id(),
    )
    session.add(event)
    return event
