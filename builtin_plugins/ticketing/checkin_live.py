"""Live check-in counts: what door supervisors' screens show as scans come in.

After a scan, an undo or an offline upload commits, the router calls :func:`announce`;
shortly after, this process reads the counts of every list of the event and publishes
``{"event_id", "lists": {list_id: {"issued", "checked_in"}}, "at"}`` on the pub/sub channel
``checkin:{event_id}`` (Redis across replicas). Announcements are coalesced per event: at
most one read per event per ``ANNOUNCE_DELAY_SECONDS`` per process, however fast the gates
scan. A new watcher first gets the current counts (:func:`open_feed`), then the updates.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from builtin_plugins.ticketing.checkin_schemas import ListCounts
from builtin_plugins.ticketing.checkin_service import counts, get_event
from kernel.context import Kernel
from kernel.problems import Problem
from kernel.pubsub import PubSubError, Subscription

logger = logging.getLogger(__name__)

ANNOUNCE_DELAY_SECONDS = 0.05
_SERVICE = "ticketing.checkin-announcer"


class LiveUpdatesUnavailable(Problem):
    status, code, title = 503, "live-updates-unavailable", "Service Unavailable"


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


async def publish_now(kernel: Kernel, event_id: uuid.UUID) -> None:
    """Read the event's counts and publish them. Best effort: never raises (watchers that
    miss an update get the current counts when they reconnect)."""
    try:
        async with kernel.database.transaction() as session:
            numbers = await counts(session, event_id)
        await kernel.pubsub.publish(channel(event_id), message(event_id, numbers))
    except PubSubError:
        logger.warning("could not publish check-in counts", extra={"event_id": str(event_id)})
    except Exception:
        logger.exception("publishing check-in counts failed", extra={"event_id": str(event_id)})


class _Coalescer:
    """One pending announcement per event. An event stops being pending *before* its
    counts are read, so a change committed after that read schedules another one: the
    last state is always published."""

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self.pending: set[uuid.UUID] = set()
        self.tasks: set[asyncio.Task[None]] = set()

    def request(self, event_id: uuid.UUID) -> None:
        if event_id in self.pending:
            return
        self.pending.add(event_id)
        task = asyncio.get_running_loop().create_task(self._run(event_id))
        self.tasks.add(task)  # a strong reference until it is done
        task.add_done_callback(self.tasks.discard)

    async def _run(self, event_id: uuid.UUID) -> None:
        try:
            await asyncio.sleep(ANNOUNCE_DELAY_SECONDS)
        finally:
            self.pending.discard(event_id)
        await publish_now(self.kernel, event_id)


async def announce(kernel: Kernel, event_id: uuid.UUID) -> None:
    """Have the event's new counts published shortly. Call it after the change committed
    (e.g. as a background task of the response); returns at once, never raises.

    ``async`` so that background tasks run it on the event loop, not in a thread."""
    coalescer = kernel.services.get(_SERVICE)
    if not isinstance(coalescer, _Coalescer):
        coalescer = kernel.services.setdefault(_SERVICE, _Coalescer(kernel))
    assert isinstance(coalescer, _Coalescer)
    coalescer.request(event_id)


@dataclass(frozen=True, slots=True)
class CountsFeed:
    snapshot: str  # the current counts, as a message
    updates: Subscription  # the messages published after it


@asynccontextmanager
async def open_feed(
    kernel: Kernel, organization_id: uuid.UUID, event_id: uuid.UUID
) -> AsyncIterator[CountsFeed]:
    """Subscribe to the event's updates, then read its counts, so none falls between.

    Raises :class:`~kernel.problems.NotFound` for another organization's event and
    :class:`LiveUpdatesUnavailable` when the pub/sub cannot be reached.
    """
    async with kernel.database.transaction() as session:
        await get_event(session, organization_id, event_id)
    updates = kernel.pubsub.subscribe(channel(event_id))
    try:
        await updates.__aenter__()
    except PubSubError as exc:
        raise LiveUpdatesUnavailable(
            "Live updates are unavailable right now; try again shortly.",
            headers={"Retry-After": "5"},
        ) from exc
    try:
        async with kernel.database.transaction() as session:
            numbers = await counts(session, event_id)
        yield CountsFeed(message(event_id, numbers), updates)
    finally:
        updates.close()
