"""Live updates pushed to browsers, one way for every plugin.

A plugin publishes on a pub/sub channel after its change commits (``kernel.pubsub``, which
may raise :class:`PubSubError`); a route opens a :class:`LiveFeed` with
:func:`open_live_feed` and serves it as Server-Sent Events (:func:`sse_messages`) or over
a WebSocket (:func:`relay_to_websocket`, closing with the ``CLOSE_*`` codes below).
:func:`coalescer` merges bursts of changes into one message per key.
"""

from kernel.live import (
    CLOSE_FORBIDDEN,
    CLOSE_NOT_FOUND,
    CLOSE_TRY_AGAIN_LATER,
    CLOSE_UNAUTHORIZED,
    RECONNECT_MILLISECONDS,
    Coalescer,
    LiveFeed,
    LiveUpdatesUnavailable,
    coalescer,
    open_live_feed,
    relay_to_websocket,
    sse_messages,
    websocket_handshake_request,
)
from kernel.pubsub import PubSubError

__all__ = [
    "CLOSE_FORBIDDEN",
    "CLOSE_NOT_FOUND",
    "CLOSE_TRY_AGAIN_LATER",
    "CLOSE_UNAUTHORIZED",
    "RECONNECT_MILLISECONDS",
    "Coalescer",
    "LiveFeed",
    "LiveUpdatesUnavailable",
    "PubSubError",
    "coalescer",
    "open_live_feed",
    "relay_to_websocket",
    "sse_messages",
    "websocket_handshake_request",
]
