"""Live availability of a published event's ticket types, pushed as it changes.

* ``GET /events/{event_id}/availability/stream``: Server-Sent Events. Each message is an
  ``availability`` event whose data is ``{"event_id", "date_id", "ticket_types": {id:
  available}, "at"}``; the first one is the current state, the next ones what changed.
  ``date_id`` names the date the numbers are for: each update names the date that
  changed; the first message is for ``?date_id=`` when given, the event's only date, or
  ``null`` (a series' best date). An idle stream
  carries a ``: ping`` comment every 15 s. When updates are interrupted the stream ends
  and ``EventSource`` reconnects by itself (after ``retry`` ms) to a fresh state.
* ``WS /events/{event_id}/availability/ws``: the same messages as JSON text frames. An
  unknown or unpublished event is closed with 4404; interrupted updates with 1013 (try
  again later). Liveness is the server's WebSocket pings.

Both are public. Each replica holds one pub/sub subscription per watched event, whatever
the number of clients, so an update published on any replica reaches every client (see
:mod:`kernel.live`).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import APIRouter, Depends, Query, WebSocket
from fastapi.sse import EventSourceResponse, ServerSentEvent

from builtin_plugins.events.realtime import (
    availability_channel,
    availability_message,
    availability_snapshot,
    date_ids,
    is_published,
)
from sdk import Kernel, NotFound
from sdk.http import KernelDep, Public, public, websocket_contract
from sdk.live import (
    CLOSE_NOT_FOUND,
    CLOSE_TRY_AGAIN_LATER,
    LiveFeed,
    LiveUpdatesUnavailable,
    open_live_feed,
    relay_to_websocket,
    sse_messages,
)

router = APIRouter(prefix="/events", tags=["events"], dependencies=[public()])


DateQuery = Annotated[uuid.UUID | None, Query(description="The first message's date")]


@asynccontextmanager
async def open_feed(
    kernel: Kernel, event_id: uuid.UUID, date_id: uuid.UUID | None = None
) -> AsyncIterator[LiveFeed]:
    """Subscribe to the event's updates, then read its current state (of ``date_id``, or
    of its only date), so none falls between.

    Raises :class:`NotFound` unless the event is published (and has that date), and
    :class:`~kernel.live.LiveUpdatesUnavailable` when the pub/sub cannot be reached.
    """
    async with kernel.database.transaction() as session:
        if not await is_published(session, event_id):
            raise NotFound(f"No published event {event_id}.")
        dates = await date_ids(session, event_id)
    if date_id is not None and date_id not in dates:
        raise NotFound(f"No date {date_id} for event {event_id}.")
    if date_id is None and len(dates) == 1:
        date_id = dates[0]

    async def read_snapshot() -> str:
        async with kernel.database.transaction() as session:
            snapshot = await availability_snapshot(session, event_id, event_date_id=date_id)
        return availability_message(event_id, snapshot, event_date_id=date_id)

    async with open_live_feed(kernel, availability_channel(event_id), read_snapshot) as feed:
        yield feed


async def availability_feed(
    event_id: uuid.UUID, kernel: KernelDep, date_id: DateQuery = None
) -> AsyncIterator[LiveFeed]:
    """Opened before the stream starts, so a refusal is a real 404 or 503 answer."""
    async with open_feed(kernel, event_id, date_id) as feed:
        yield feed


@router.get(
    "/{event_id}/availability/stream",
    response_class=EventSourceResponse,
    summary="Live availability of a published event's ticket types (Server-Sent Events)",
    responses={
        404: {"description": "No published event with this id"},
        503: {"description": "Live updates are unavailable (the pub/sub is unreachable)"},
    },
)
async def stream_availability(
    feed: Annotated[LiveFeed, Depends(availability_feed)],
) -> AsyncIterator[ServerSentEvent]:
    async for message in sse_messages(feed, "availability"):
        yield message


@router.websocket("/{event_id}/availability/ws")
@websocket_contract(
    summary="Live availability of a published event's ticket types",
    access=Public(),
    sends='`{"event_id", "date_id", "ticket_types": {ticket_type_id: units left, null when '
    'unlimited}, "at"}`: first the current state, then each change. `date_id` names the '
    "date the numbers are for (null: the event as a whole): the first message is for "
    "`?date_id=` when given, and each update names the date that changed.",
    close_codes={
        CLOSE_NOT_FOUND: "No published event with this id, or no such date of it",
        CLOSE_TRY_AGAIN_LATER: "Live updates were interrupted or are unavailable; reconnect",
    },
    tags=("events",),
)
async def availability_websocket(
    websocket: WebSocket, event_id: uuid.UUID, date_id: DateQuery = None
) -> None:
    kernel: Kernel = websocket.app.state.kernel
    await websocket.accept()
    try:
        async with open_feed(kernel, event_id, date_id) as feed:
            await relay_to_websocket(websocket, feed)
    except NotFound as exc:
        await websocket.close(CLOSE_NOT_FOUND, exc.detail)
    except LiveUpdatesUnavailable as exc:
        await websocket.close(CLOSE_TRY_AGAIN_LATER, exc.detail)
