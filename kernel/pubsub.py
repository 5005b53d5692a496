"""Publish/subscribe between API processes, for pushing live updates to clients.

``RedisPubSub`` when ``REDIS_URL`` is set: every replica subscribed to a channel receives
what any replica publishes on it. Without Redis, ``InProcessPubSub`` delivers within the
process only (one replica on a laptop).

A process holds one Redis connection for all of its subscriptions, however many clients
listen: a channel is subscribed in Redis while at least one local subscriber wants it, and
each message read from Redis is fanned out in memory to the local subscribers::

    async with kernel.pubsub.subscribe("availability:42") as messages:
        ...  # subscribed from here on: nothing published after this point is missed
        async for message in messages:  # bytes, in publishing order
            ...

Delivery is best effort, for live views only (durable events go through the outbox): a
subscriber that falls ``max_pending`` messages behind, or whose Redis connection breaks,
receives :class:`SubscriptionLost` after the messages it already has, and should start
over from the current state.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
import secrets
import socket
from collections import deque
from collections.abc import Coroutine
from typing import Any, Protocol

from redis.asyncio import Redis
from redis.asyncio.client import PubSub as RedisConnection
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from kernel.settings import Settings

logger = logging.getLogger(__name__)

DEFAULT_MAX_PENDING = 256


class PubSubError(Exception):
    """The broker could not be reached: nothing was published, or the subscription failed."""


class SubscriptionLost(Exception):
    """Delivery stopped and messages may have been missed: start over from the current state."""


class PubSub(Protocol):
    backend: str

    async def publish(self, channel: str, message: bytes | str) -> None:
        """Send ``message`` to every current subscriber of ``channel``, in every process.

        Raises :class:`PubSubError` when the broker cannot be reached.
        """
        ...

    def subscribe(self, channel: str) -> Subscription:
        """Messages of ``channel`` from the moment ``async with`` enters the result."""
        ...

    def subscriber_count(self, channel: str | None = None) -> int:
        """Local subscribers of ``channel`` (of every channel when ``None``)."""
        ...

    async def is_watched(self, channel: str) -> bool:
        """Whether any process subscribes to ``channel`` now, so a publisher can skip
        reading what nobody watches. ``True`` when unsure (the broker did not answer).

        A watcher arriving right after a ``False`` misses nothing: it reads its snapshot
        after subscribing.
        """
        ...

    def end_subscriptions(self, reason: str) -> None:
        """End every local subscription (:class:`SubscriptionLost` with ``reason``) and
        refuse new ones (:class:`PubSubError`), while publishing goes on: the process is
        stopping, and its live clients should start over on another replica."""
        ...

    async def close(self) -> None: ...


class Subscription:
    """One local subscriber of one channel: an async context manager and async iterator.

    Entering subscribes (and, on Redis, waits until the broker confirmed); leaving, or
    :meth:`close`, unsubscribes at once and never blocks, so it is safe in cancellation.
    """

    def __init__(self, hub: _LocalFanout, channel: str, *, max_pending: int) -> None:
        self.channel = channel
        self._hub = hub
        self._max_pending = max_pending
        self._pending: deque[bytes] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._state = "new"  # new -> open -> closed
        self._lost: str | None = None

    async def __aenter__(self) -> Subscription:
        if self._state != "new":
            raise RuntimeError("a subscription is entered once")
        self._state = "open"
        try:
            await self._hub._attach(self)
        except BaseException:
            self.close()
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Leave the channel; iteration stops. Idempotent and synchronous."""
        if self._state == "closed":
            return
        self._state = "closed"
        self._pending.clear()
        self._hub._detach(self)
        self._wake()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> bytes:
        if self._state == "new":
            raise RuntimeError("enter the subscription with `async with` before iterating")
        while not self._pending:
            if self._lost is not None:
                raise SubscriptionLost(self._lost)
            if self._state == "closed":
                raise StopAsyncIteration
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._pending.popleft()

    # -- called by the hub -------------------------------------------------------------

    def _deliver(self, message: bytes) -> None:
        if self._state != "open" or self._lost is not None:
            return
        if len(self._pending) >= self._max_pending:
            self._lose(f"more than {self._max_pending} unread messages on {self.channel!r}")
            return
        self._pending.append(message)
        self._wake()

    def _lose(self, reason: str) -> None:
        if self._lost is None:
            self._lost = reason
        self._hub._detach(self)
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


class _LocalFanout:
    """The local subscribers of each channel, and delivery to them."""

    def __init__(self, *, max_pending: int = DEFAULT_MAX_PENDING) -> None:
        self._max_pending = max_pending
        self._local: dict[str, set[Subscription]] = {}
        self._ended: str | None = None  # why new subscriptions are refused

    def end_subscriptions(self, reason: str) -> None:
        self._ended = reason
        self._lose_all(reason)

    def subscribe(self, channel: str) -> Subscription:
        return Subscription(self, channel, max_pending=self._max_pending)

    def subscriber_count(self, channel: str | None = None) -> int:
        if channel is not None:
            return len(self._local.get(channel, ()))
        return sum(len(subscribers) for subscribers in self._local.values())

    async def _attach(self, subscription: Subscription) -> None:
        raise NotImplementedError

    def _detach(self, subscription: Subscription) -> None:
        raise NotImplementedError

    def _add(self, subscription: Subscription) -> None:
        if self._ended is not None:
            raise PubSubError(self._ended)
        self._local.setdefault(subscription.channel, set()).add(subscription)

    def _remove(self, subscription: Subscription) -> bool:
        """Forget ``subscription``; ``True`` when it was its channel's last one."""
        subscribers = self._local.get(subscription.channel)
        if subscribers is None or subscription not in subscribers:
            return False
        subscribers.discard(subscription)
        if subscribers:
            return False
        del self._local[subscription.channel]
        return True

    def _fan_out(self, channel: str, message: bytes) -> None:
        for subscription in tuple(self._local.get(channel, ())):
            subscription._deliver(message)

    def _lose_all(self, reason: str) -> None:
        subscriptions = [s for subscribers in self._local.values() for s in subscribers]
        self._local.clear()
        for subscription in subscriptions:
            subscription._lose(reason)


def _as_bytes(message: bytes | str) -> bytes:
    return message.encode() if isinstance(message, str) else bytes(message)


class InProcessPubSub(_LocalFanout):
    """Delivery inside this process only: for a single replica without Redis."""

    backend = "in-process"

    def __init__(self, *, max_pending: int = DEFAULT_MAX_PENDING) -> None:
        super().__init__(max_pending=max_pending)
        self._closed = False

    async def publish(self, channel: str, message: bytes | str) -> None:
        self._fan_out(channel, _as_bytes(message))

    async def is_watched(self, channel: str) -> bool:
        return self.subscriber_count(channel) > 0

    async def _attach(self, subscription: Subscription) -> None:
        if self._closed:
            raise PubSubError("the pub/sub is closed")
        self._add(subscription)

    def _detach(self, subscription: Subscription) -> None:
        self._remove(subscription)

    async def close(self) -> None:
        self._closed = True
        self._lose_all("the pub/sub closed")


class RedisPubSub(_LocalFanout):
    """Redis pub/sub: publishing through a pooled client, one shared subscriber connection.

    The subscriber connection never retries on its own: when it breaks, every local
    subscription gets :class:`SubscriptionLost` (its clients resubscribe and read the
    current state again) and the next subscription opens a fresh connection. An idle
    connection is checked with ``PING`` every ``ping_interval`` seconds.
    """

    backend = "redis"

    def __init__(
        self,
        publisher: Redis,
        subscriber: Redis,
        *,
        max_pending: int = DEFAULT_MAX_PENDING,
        confirm_timeout: float = 10.0,
        ping_interval: float = 15.0,
        poll_seconds: float = 1.0,
    ) -> None:
        super().__init__(max_pending=max_pending)
        self._publisher = publisher
        self._subscriber = subscriber
        self._confirm_timeout = confirm_timeout
        self._ping_interval = ping_interval
        self._poll_seconds = poll_seconds
        # The current subscriber connection and what belongs to it.
        self._connection: RedisConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        # Redis answers SUBSCRIBE/UNSUBSCRIBE in the order they were sent: one entry per
        # command sent, the future of whoever waits for that answer (or None).
        self._replies: deque[asyncio.Future[None] | None] = deque()
        self._subscribed: dict[str, asyncio.Task[None]] = {}  # channel -> its SUBSCRIBE
        self._remote: set[str] = set()  # channels subscribed on the current connection
        self._lock = asyncio.Lock()  # orders commands with ``_replies``
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False

    @classmethod
    def from_url(cls, url: str, **options: Any) -> RedisPubSub:
        name = f"ticketing-pubsub-{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        publisher = Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        subscriber = Redis.from_url(
            url,
            client_name=name,
            socket_timeout=5,
            socket_connect_timeout=5,
            socket_keepalive=True,
            retry=Retry(NoBackoff(), 0),
        )
        return cls(publisher, subscriber, **options)

    @property
    def connection_name(self) -> str | None:
        """The ``CLIENT SETNAME`` of the subscriber connection (``CLIENT LIST`` shows it)."""
        return self._subscriber.connection_pool.connection_kwargs.get("client_name")

    async def publish(self, channel: str, message: bytes | str) -> None:
        try:
            await self._publisher.publish(channel, _as_bytes(message))
        except RedisError as exc:
            raise PubSubError(f"could not publish on {channel!r}: {exc}") from exc

    async def is_watched(self, channel: str) -> bool:
        # Each replica holds one broker subscription per channel it has watchers of.
        try:
            ((_, count),) = await self._publisher.pubsub_numsub(channel)
        except RedisError:
            return True
        return int(count) > 0

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._connection is not None:
            self._lose_connection(self._connection, "the pub/sub closed")
        self._lose_all("the pub/sub closed")
        if self._tasks:
            _, still_running = await asyncio.wait(set(self._tasks), timeout=5)
            for task in still_running:
                task.cancel()
        await self._publisher.aclose()
        await self._subscriber.aclose()

    # -- local subscribers ---------------------------------------------------------------

    async def _attach(self, subscription: Subscription) -> None:
        if self._closed:
            raise PubSubError("the pub/sub is closed")
        channel = subscription.channel
        self._add(subscription)
        confirmed = self._subscribed.get(channel)
        if confirmed is None:
            confirmed = self._spawn(self._subscribe(channel), f"subscribe {channel}")
            self._subscribed[channel] = confirmed
        # Shielded: a subscriber cancelled while waiting must not cancel the command
        # half-written on the shared connection, nor the others waiting for it.
        await asyncio.shield(confirmed)

    def _detach(self, subscription: Subscription) -> None:
        if not self._remove(subscription):
            return
        self._subscribed.pop(subscription.channel, None)
        if self._connection is not None and not self._closed:
            self._spawn(
                self._unsubscribe(subscription.channel, self._connection),
                f"unsubscribe {subscription.channel}",
            )

    # -- the shared connection -------------------------------------------------------------

    async def _subscribe(self, channel: str) -> None:
        async with self._lock:
            if self._connection is None:
                self._connection = self._subscriber.pubsub()
            connection = self._connection
            reply = asyncio.get_running_loop().create_future()
            reply.add_done_callback(_retrieved)  # a failure reaches its waiter, if any
            self._replies.append(reply)
            self._remote.add(channel)
            try:
                await connection.subscribe(channel)
            except Exception as exc:
                self._lose_connection(connection, f"could not subscribe: {exc}")
                raise PubSubError(f"could not subscribe to {channel!r}: {exc}") from exc
            if self._reader is None:
                self._reader = self._spawn(self._read(connection), "pubsub reader")
        try:
            async with asyncio.timeout(self._confirm_timeout):
                await reply
        except TimeoutError as exc:
            self._lose_connection(connection, "Redis did not confirm a subscription")
            raise PubSubError(f"Redis did not confirm the subscription to {channel!r}") from exc
        if channel not in self._local:
            # Everyone who wanted it left (or was lost) while it was being subscribed.
            self._spawn(self._unsubscribe(channel, connection), f"unsubscribe {channel}")

    async def _unsubscribe(self, channel: str, connection: RedisConnection) -> None:
        async with self._lock:
            if (
                connection is not self._connection
                or channel in self._local
                or channel not in self._remote
            ):
                return  # connection gone, someone subscribed again, or already unsubscribed
            self._remote.discard(channel)
            self._replies.append(None)
            try:
                await connection.unsubscribe(channel)
            except Exception as exc:
                self._lose_connection(connection, f"could not unsubscribe: {exc}")

    async def _read(self, connection: RedisConnection) -> None:
        loop = asyncio.get_running_loop()
        last_heard = loop.time()
        ping_sent_at: float | None = None
        try:
            while True:
                message = await connection.get_message(timeout=self._poll_seconds)
                now = loop.time()
                if message is None:
                    if ping_sent_at is not None and now - ping_sent_at > self._confirm_timeout:
                        raise TimeoutError("Redis did not answer PING")
                    if ping_sent_at is None and now - last_heard >= self._ping_interval:
                        async with self._lock:
                            await connection.ping()
                        ping_sent_at = now
                    continue
                last_heard, ping_sent_at = now, None
                kind = message["type"]
                if kind == "message":
                    channel = message["channel"]
                    if isinstance(channel, bytes):
                        channel = channel.decode()
                    self._fan_out(channel, message["data"])
                elif kind in ("subscribe", "unsubscribe") and self._replies:
                    reply = self._replies.popleft()
                    if reply is not None and not reply.done():
                        reply.set_result(None)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if connection is self._connection:
                logger.warning(
                    "lost the Redis pub/sub connection; its subscribers start over",
                    exc_info=True,
                    extra={"subscribers": self.subscriber_count()},
                )
            self._lose_connection(connection, f"lost the Redis pub/sub connection: {exc}")

    def _lose_connection(self, connection: RedisConnection, reason: str) -> None:
        """Give up ``connection``: everyone waiting on it fails, every subscriber is lost."""
        if connection is not self._connection:
            return
        self._connection = None
        reader, self._reader = self._reader, None
        if reader is not None and reader is not asyncio.current_task():
            reader.cancel()
        for reply in self._replies:
            if reply is not None and not reply.done():
                reply.set_exception(PubSubError(reason))
        self._replies.clear()
        self._subscribed.clear()
        self._remote.clear()
        self._lose_all(reason + "; messages may have been missed")
        self._spawn(self._close_connection(connection), "close pubsub connection")

    async def _close_connection(self, connection: RedisConnection) -> None:
        try:
            await connection.aclose()
        except Exception:
            logger.debug("closing a broken pub/sub connection failed", exc_info=True)

    def _spawn(self, coroutine: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        # A fresh context: the shared connection's work belongs to no request (nor its id).
        task = asyncio.get_running_loop().create_task(
            coroutine, name=f"pubsub: {name}", context=contextvars.Context()
        )
        self._tasks.add(task)
        task.add_done_callback(self._forget)
        return task

    def _forget(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        _retrieved(task)  # failures reach whoever awaited the task, or were logged


def _retrieved(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


def build_pubsub(settings: Settings) -> PubSub:
    """Redis when ``REDIS_URL`` is set, else in-process (one replica only)."""
    if settings.redis_url:
        return RedisPubSub.from_url(settings.redis_url)
    logger.info("no REDIS_URL set: using in-process pub/sub (live updates reach this process only)")
    return InProcessPubSub()
