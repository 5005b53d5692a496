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
the number of clients, so an update published on any replica reaches every client.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, WebSocket, WebSocketDisconnect
from fastapi.sse import EventSourceResponse, ServerSentEvent

from builtin_plugins.events.realtime import (
    availability_channel,
    availability_message,
    availability_snapshot,
    is_published,
)
from kernel.auth import public
from kernel.context import Kernel
from kernel.dependencies import KernelDep
from kernel.problems import NotFound, Problem
from kernel.pubsub import PubSubError, Subscription, SubscriptionLost

router = APIRouter(prefix="/events", tags=["events"], dependencies=[public()])

RECONNECT_MILLISECONDS = 3000
CLOSE_NOT_FOUND = 4404
CLOSE_TRY_AGAIN_LATER = 1013


class LiveUpdatesUnavailable(Problem):
    status, code, title = 503, "live-updates-unavailable", "Service Unavailable"


@dataclass(frozen=True, slots=True)
class AvailabilityFeed:
    snapshot: str  # the current state, as an availability message
    updates: Subscription  # the messages published after it


@asynccontextmanager
async def open_feed(kernel: Kernel, event_id: uuid.UUID) -> AsyncIterator[AvailabilityFeed]:
    """Subscribe to the event's updates, then read its current state, so none falls between.

    Raises :class:`NotFound` unless the event is published, and
    :class:`LiveUpdatesUnavailable` when the pub/sub cannot be reached.
    """
    async with kernel.database.transaction() as session:
        if not await is_published(session, event_id):
            raise NotFound(f"No published event {event_id}.")
    updates = kernel.pubsub.subscribe(availability_channel(event_id))
    try:
        await updates.__aenter__()
    except PubSubError as exc:
        raise LiveUpdatesUnavailable(
            "Live updates are unavailable right now; try again shortly.",
            headers={"Retry-After": "5"},
        ) from exc
    try:
        async with kernel.database.transaction() as session:
            snapshot = await availability_snapshot(session, event_id)
        yield AvailabilityFeed(availability_message(event_id, snapshot), updates)
    finally:
        updates.close()


async def availability_feed(
    event_id: uuid.UUID, kernel: KernelDep
) -> AsyncIterator[AvailabilityFeed]:
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
    feed: Annotated[AvailabilityFeed, Depends(availability_feed)],
) -> AsyncIterator[ServerSentEvent]:
    yield ServerSentEvent(
        event="availability", raw_data=feed.snapshot, retry=RECONNECT_MILLISECONDS
    )
    try:
        async for message in feed.updates:
            yield ServerSentEvent(event="availability", raw_data=message.decode())
    except SubscriptionLost:
        return  # ending the stream makes EventSource reconnect to a fresh snapshot


@router.websocket("/{event_id}/availability/ws")
async def availability_websocket(websocket: WebSocket, event_id: uuid.UUID) -> None:
    kernel: Kernel = websocket.app.state.kernel
    await websocket.accept()
    try:
        async with open_feed(kernel, event_id) as feed:
            await _relay(websocket, feed)
    except NotFound as exc:
        await websocket.close(CLOSE_NOT_FOUND, exc.detail)
    except LiveUpdatesUnavailable as exc:
        await websocket.close(CLOSE_TRY_AGAIN_LATER, exc.detail)


async def _relay(websocket: WebSocket, feed: AvailabilityFeed) -> None:
    """Send the snapshot and each update until the client leaves or updates stop."""
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(_watch_for_disconnect, websocket, tasks.cancel_scope)
        try:
            await websocket.send_text(feed.snapshot)
            async for message in feed.updates:
                await websocket.send_text(message.decode())
        except SubscriptionLost:
            await websocket.close(CLOSE_TRY_AGAIN_LATER, "Updates were interrupted; reconnect.")
        except WebSocketDisconnect:
            pass
        tasks.cancel_scope.cancel()


async def _watch_for_disconnect(websocket: WebSocket, scope: anyio.CancelScope) -> None:
    while (await websocket.receive())["type"] != "websocket.disconnect":
        pass  # clients have nothing to say here; what they send is ignored
    scope.cancel()
