"""Live updates pushed to browsers: one way of doing it, for every plugin that needs it.

A plugin publishes a message on a pub/sub channel after a change commits; every replica's
Server-Sent Events and WebSocket clients watching that channel receive it. Why it is
built this way:

* **One subscription per channel per replica.** :mod:`kernel.pubsub` holds one broker
  subscription for a channel however many local clients watch it, and fans messages out
  in memory, so a thousand browsers on one replica cost Redis what one does.
* **Snapshot after subscribing.** :func:`open_live_feed` subscribes first and reads the
  current state second: an update committed in between is either in the snapshot or
  delivered after it, never lost. When delivery is interrupted
  (:class:`~kernel.pubsub.SubscriptionLost`), the stream ends and the client reconnects
  to a fresh snapshot.
* **Coalesced announcements.** :class:`Coalescer` turns a burst of changes into one read
  and publish per key per delay (per process): a flash sale placing hundreds of holds a
  second costs one read per event per delay, and the last state is always published.

Callers check existence and permissions themselves before :func:`open_live_feed` (each
plugin's rule differs); a refusal then is a real HTTP answer, or a WebSocket close code.
Which web pages may open a WebSocket at all is decided before any route runs
(:mod:`kernel.middleware.websocket_origin`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Generic, TypeVar

import anyio
from fastapi import Request, WebSocket, WebSocketDisconnect
from fastapi.sse import ServerSentEvent

from kernel.context import Kernel
from kernel.problems import Problem
from kernel.pubsub import PubSubError, Subscription, SubscriptionLost

logger = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)

RECONNECT_MILLISECONDS = 3000  # what EventSource waits before reconnecting
CLOSE_TRY_AGAIN_LATER = 1013  # updates interrupted, or the pub/sub unreachable
CLOSE_UNAUTHORIZED = 4401  # no or invalid credential
CLOSE_FORBIDDEN = 4403  # authenticated, but not allowed to watch
CLOSE_NOT_FOUND = 4404  # nothing to watch here (or not visible to this client)


class LiveUpdatesUnavailable(Problem):
    status, code, title = 503, "live-updates-unavailable", "Service Unavailable"


@dataclass(frozen=True, slots=True)
class LiveFeed:
    snapshot: str  # the current state, as a message
    updates: Subscription  # the messages published after it


@asynccontextmanager
async def open_live_feed(
    kernel: Kernel, channel: str, read_snapshot: Callable[[], Awaitable[str]]
) -> AsyncIterator[LiveFeed]:
    """Subscribe to ``channel``, then read the current state, so no update falls between.

    ``read_snapshot`` returns the current state as a message of the channel. Raises
    :class:`LiveUpdatesUnavailable` when the pub/sub cannot be reached. The subscription
    is closed when the block exits, however it exits.
    """
    updates = kernel.pubsub.subscribe(channel)
    try:
        await updates.__aenter__()
    except PubSubError as exc:
        raise LiveUpdatesUnavailable(
            "Live updates are unavailable right now; try again shortly.",
            headers={"Retry-After": "5"},
        ) from exc
    try:
        yield LiveFeed(await read_snapshot(), updates)
    finally:
        updates.close()


async def sse_messages(
    feed: LiveFeed, event: str, *, retry_ms: int = RECONNECT_MILLISECONDS
) -> AsyncIterator[ServerSentEvent]:
    """The feed as Server-Sent Events named ``event``: the snapshot (telling EventSource
    to reconnect after ``retry_ms``), then each update. Ends when updates are interrupted,
    which makes EventSource reconnect to a fresh snapshot."""
    yield ServerSentEvent(event=event, raw_data=feed.snapshot, retry=retry_ms)
    try:
        async for message in feed.updates:
            yield ServerSentEvent(event=event, raw_data=message.decode())
    except SubscriptionLost:
        return


async def relay_to_websocket(websocket: WebSocket, feed: LiveFeed) -> None:
    """Send the snapshot and each update as text frames until the client leaves or
    updates stop (then close with :data:`CLOSE_TRY_AGAIN_LATER`). What the client sends
    is ignored."""
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


def websocket_handshake_request(websocket: WebSocket) -> Request:
    """The handshake as the ``GET`` request it is, for the authentication hook (which
    reads headers and cookies, and asks CSRF only of unsafe methods)."""
    return Request({**websocket.scope, "type": "http", "method": "GET"})


class Coalescer(Generic[K]):
    """One pending publication per key: ``request(key)`` calls ``publish(key)`` after
    ``delay`` seconds unless one is already pending for that key.

    A key stops being pending *before* ``publish`` reads the state, so a change committed
    after that read schedules another publication: the last state is always published.
    """

    def __init__(self, publish: Callable[[K], Awaitable[None]], delay: float) -> None:
        self.publish = publish
        self.delay = delay
        self.pending: set[K] = set()
        self.tasks: set[asyncio.Task[None]] = set()

    def request(self, key: K) -> None:
        """Have ``key`` published shortly. Returns at once; needs a running event loop."""
        if key in self.pending:
            return
        self.pending.add(key)
        task = asyncio.get_running_loop().create_task(self._run(key))
        self.tasks.add(task)  # a strong reference until it is done
        task.add_done_callback(self.tasks.discard)

    async def _run(self, key: K) -> None:
        try:
            await asyncio.sleep(self.delay)
        finally:
            self.pending.discard(key)
        try:
            await self.publish(key)
        except Exception:
            logger.exception("publishing a live update failed", extra={"key": str(key)})


def coalescer(
    kernel: Kernel, name: str, publish: Callable[[K], Awaitable[None]], delay: float
) -> Coalescer[K]:
    """The kernel's coalescer named ``name``, created with ``publish`` and ``delay`` on
    first use (later calls return it as it is)."""
    found = kernel.services.get(name)
    if found is None:
        found = kernel.services.setdefault(name, Coalescer(publish, delay))
    if not isinstance(found, Coalescer):
        raise TypeError(f"kernel.services[{name!r}] is not a Coalescer")
    return found
