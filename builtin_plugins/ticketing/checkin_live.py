"""Live check-in counts: what door supervisors' screens show as scans come in.

After a scan, an undo or an offline upload commits, the router calls :func:`announce`;
shortly after, this process reads the counts of every list of the event and publishes
``{"event_id", "lists": {list_id: {"issued", "checked_in"}}, "at"}`` on the pub/sub channel
``checkin:{event_id}`` (Redis across replicas). Announcements are coalesced per event: at
most one read per event per ``ANNOUNCE_DELAY_SECONDS`` per process, however fast the gates
scan. A new watcher first gets the current counts (:func:`open_feed`), then the updates.
The plumbing (subscription, snapshot, coalescing) is :mod:`kernel.live`'s.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from functools import partial

from builtin_plugins.events import get_event
from builtin_plugins.ticketing.checkin_schemas import ListCounts
from builtin_plugins.ticketing.checkin_service import counts
from sdk import Kernel
from sdk.live import LiveFeed, PubSubError, coalescer, open_live_feed

logger = logging.getLogger(__name__)

ANNOUNCE_DELAY_SECONDS = 0.05
_SERVICE = "ticketing.checkin-announcer"


def channel(event_id: uuid.UUID) -> str:
    return f"checkin:{event_id}"


def message(
    event_id: uuid.UUID, numbers: Mapping[uuid.UUID, ListCounts], *, at: datetime | None = None
) -> str:
    at = at or datetime.now(UTC)
    return json.dumps(
        {
            "event_id": str(event_id),
            "lists": {str(list_id): entry.model_dump() for list_id, entry in numbers.items()},
            "at": at.isoformat().replace("+00:00", "Z"),
        },
        separators=(",", ":"),
    )


async def _read_message(kernel: Kernel, event_id: uuid.UUID) -> str:
    async with kernel.database.transaction() as session:
        numbers = await counts(session, event_id)
    return message(event_id, numbers)


async def publish_now(kernel: Kernel, event_id: uuid.UUID) -> None:
    """Read the event's counts and publish them. Best effort: never raises (watchers that
    miss an update get the current counts when they reconnect)."""
    try:
        if not await kernel.pubsub.is_watched(channel(event_id)):
            return  # nobody watches: don't count a large event's tickets for no one
        await kernel.pubsub.publish(channel(event_id), await _read_message(kernel, event_id))
    except PubSubError:
        logger.warning("could not publish check-in counts", extra={"event_id": str(event_id)})
    except Exception:
        logger.exception("publishing check-in counts failed", extra={"event_id": str(event_id)})


async def announce(kernel: Kernel, event_id: uuid.UUID) -> None:
    """Have the event's new counts published shortly. Call it after the change committed
    (e.g. as a background task of the response); returns at once, never raises.

    ``async`` so that background tasks run it on the event loop, not in a thread."""
    publish = partial(publish_now, kernel)
    coalescer(kernel, _SERVICE, publish, ANNOUNCE_DELAY_SECONDS).request(event_id)


@asynccontextmanager
async def open_feed(
    kernel: Kernel, organization_id: uuid.UUID, event_id: uuid.UUID
) -> AsyncIterator[LiveFeed]:
    """Subscribe to the event's updates, then read its counts, so none falls between.

    Raises :class:`~kernel.problems.NotFound` for another organization's event and
    :class:`~kernel.live.LiveUpdatesUnavailable` when the pub/sub cannot be reached.
    """
    async with kernel.database.transaction() as session:
        await get_event(session, organization_id=organization_id, event_id=event_id)
    read_snapshot = partial(_read_message, kernel, event_id)
    async with open_live_feed(kernel, channel(event_id), read_snapshot) as feed:
        yield feed
