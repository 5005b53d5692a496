"""Live availability of a published event's ticket types, pushed as it changes.

* ``GET /events/{event_id}/availability/stream``: Server-Sent Events. Each message is an
  ``availability`` event whose data is ``{"event_id", "ticket_types": {id: available},
  "at"}``; the first one is the current state, the next ones what changed. An idle stream
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

from fastapi import APIRouter, Depends, WebSocket
from fastapi.sse import EventSourceResponse, ServerSentEvent

from builtin_plugins.events.realtime import (
    availability_channel,
    availability_message,
    availability_snapshot,
    is_published,
)
from kernel.auth import Public, public
from kernel.context import Kernel
from kernel.dependencies import KernelDep
from kernel.live import (
    CLOSE_NOT_FOUND,
    CLOSE_TRY_AGAIN_LATER,
    LiveFeed,
    LiveUpdatesUnavailable,
    open_live_feed,
    relay_to_websocket,
    sse_messages,
)
from kernel.problems import NotFound
from kernel.websockets import websocket_contract

router = APIRouter(prefix="/events", tags=["events"], dependencies=[public()])


@asynccontextmanager
async def open_feed(kernel: Kernel, event_id: uuid.UUID) -> AsyncIterator[LiveFeed]:
    """Subscribe to the event's updates, then read its current state, so none falls between.

    Raises :class:`NotFound` unless the event is published, and
    :class:`~kernel.live.LiveUpdatesUnavailable` when the pub/sub cannot be reached.
    """
    async with kernel.database.transaction() as session:
        if not await is_published(session, event_id):
            raise NotFound(f"No published event {event_id}.")

    async def read_snapshot() -> str:
        async with kernel.database.transaction() as session:
            snapshot = await availability_snapshot(session, event_id)
        return availability_message(event_id, snapshot)

    async with open_live_feed(kernel, availability_channel(event_id), read_snapshot) as feed:
        yield feed


async def availability_feed(event_id: uuid.UUID, kernel: KernelDep) -> AsyncIterator[LiveFeed]:
    """Opened before the stream starts, so a refusal is a real 404 or 503 answer."""
    async with open_feed(kernel, event_id) as feed:
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
    sends='`{"event_id", "ticket_types": {ticket_type_id: units left, null when '
    'unlimited}, "at"}`: first the current state, then each change.',
    close_codes={
        CLOSE_NOT_FOUND: "No published event with this id",
        CLOSE_TRY_AGAIN_LATER: "Live updates were interrupted or are unavailable; reconnect",
    },
    tags=("events",),
)
async def availability_websocket(websocket: WebSocket, event_id: uuid.UUID) -> None:
    kernel: Kernel = websocket.app.state.kernel
    await websocket.accept()
    try:
        async with open_feed(kernel, event_id) as feed:
            await relay_to_websocket(websocket, feed)
    except NotFound as exc:
        await websocket.close(CLOSE_NOT_FOUND, exc.detail)
    except LiveUpdatesUnavailable as exc:
        await websocket.close(CLOSE_TRY_AGAIN_LATER, exc.detail)
