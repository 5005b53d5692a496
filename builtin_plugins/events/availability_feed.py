"""The availability feed: one pub/sub channel per event and the message on it.

Inventory publishes to it after a change commits; the realtime routes subscribe to it.
Neither needs the other: both import this module, which knows no tables.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime

from sdk import Kernel
from sdk.live import PubSubError

logger = logging.getLogger(__name__)

Availability = Mapping[uuid.UUID, int | None]


def availability_channel(event_id: uuid.UUID) -> str:
    return f"availability:{event_id}"


def availability_message(
    event_id: uuid.UUID,
    availability: Availability,
    *,
    event_date_id: uuid.UUID | None = None,
    at: datetime | None = None,
) -> str:
    """``{"event_id", "date_id", "ticket_types": {id: available or null for unlimited},
    "at"}`` as JSON. ``date_id`` names the date the numbers are for; ``null`` means the
    event as a whole (for a series: what its best date still has)."""
    at = at or datetime.now(UTC)
    return json.dumps(
        {
            "event_id": str(event_id),
            "date_id": str(event_date_id) if event_date_id else None,
            "ticket_types": {
                str(ticket_type_id): available for ticket_type_id, available in availability.items()
            },
            "at": at.isoformat().replace("+00:00", "Z"),
        },
        separators=(",", ":"),
    )


async def publish_availability(
    kernel: Kernel,
    *,
    event_id: uuid.UUID,
    availability: Availability,
    event_date_id: uuid.UUID | None = None,
) -> None:
    """Push new availability of some of an event's ticket types (on ``event_date_id``, the
    date that changed) to everyone watching.

    Call it after the change committed. Best effort: when the broker is unreachable the
    failure is logged and the caller's (already committed) change stands; watchers that
    missed it get the current state when they reconnect.
    """
    try:
        await kernel.pubsub.publish(
            availability_channel(event_id),
            availability_message(event_id, availability, event_date_id=event_date_id),
        )
    except PubSubError:
        logger.warning(
            "could not publish availability", exc_info=True, extra={"event_id": str(event_id)}
        )
