"""The pub/sub: in-process, and on the real Redis with one connection per process."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from types import SimpleNamespace

import pytest
from redis.asyncio import Redis

from builtin_plugins.events.realtime import publish_availability
from kernel.pubsub import InProcessPubSub, PubSubError, RedisPubSub, SubscriptionLost
from tests.integration.realtime.support import eventually, next_message


def channel_name() -> str:
    return f"test:{uuid.uuid4().hex}"


# -- in process -------------------------------------------------------------------------


async def test_in_process_delivers_to_every_subscriber_of_the_channel_in_order() -> None:
    pubsub = InProcessPubSub()
    news, other = channel_name(), channel_name()
    async with (
        pubsub.subscribe(news) as first,
        pubsub.subscribe(news) as second,
        pubsub.subscribe(other) as elsewhere,
    ):
        assert pubsub.subscriber_count(news) == 2
        await pubsub.publish(news, "one")
        await pubsub.publish(news, b"two")
        await pubsub.publish(other, "only here")
        for subscription in (first, second):
            assert [await next_message(subscription) for _ in range(2)] == [b"one", b"two"]
        assert await next_message(elsewhere) == b"only here"  # and nothing of ``news`` before
    assert pubsub.subscriber_count() == 0


async def test_in_process_leaving_stops_delivery() -> None:
    pubsub = InProcessPubSub()
    channel = channel_name()
    async with pubsub.subscribe(channel) as staying:
        async with pubsub.subscribe(channel) as leaving:
            pass
        assert pubsub.subscriber_count(channel) == 1
        await pubsub.publish(channel, "after")
        assert await next_message(staying) == b"after"
        with pytest.raises(StopAsyncIteration):
            await next_message(leaving)


async def test_a_subscriber_too_far_behind_is_lost_the_others_are_not() -> None:
    pubsub = InProcessPubSub(max_pending=2)
    channel = channel_name()
    async with pubsub.subscribe(channel) as slow, pubsub.subscribe(channel) as fast:
        await pubsub.publish(channel, "1")
        assert await next_message(fast) == b"1"
        await pubsub.publish(channel, "2")
        assert await next_message(fast) == b"2"
        await pubsub.publish(channel, "3")  # the third unread message for ``slow``
        assert await next_message(fast) == b"3"
        assert pubsub.subscriber_count(channel) == 1
        assert [await next_message(slow), await next_message(slow)] == [b"1", b"2"]
        with pytest.raises(SubscriptionLost):
            await next_message(slow)


async def test_closing_ends_subscriptions_and_refuses_new_ones() -> None:
    pubsub = InProcessPubSub()
    channel = channel_name()
    async with pubsub.subscribe(channel) as subscription:
        await pubsub.close()
        with pytest.raises(SubscriptionLost):
            await next_message(subscription)
    with pytest.raises(PubSubError):
        async with pubsub.subscribe(channel):
            pass


async def test_a_subscription_must_be_entered_before_iterating() -> None:
    subscription = InProcessPubSub().subscribe(channel_name())
    with pytest.raises(RuntimeError, match="async with"):
        await anext(subscription)


async def test_a_waiting_subscriber_cancelled_leaves_the_channel() -> None:
    pubsub = InProcessPubSub()
    channel = channel_name()

    async def listen() -> None:
        async with pubsub.subscribe(channel) as messages:
            async for _ in messages:
                pass

    task = asyncio.create_task(listen())
    await eventually(lambda: pubsub.subscriber_count(channel) == 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert pubsub.subscriber_count(channel) == 0


# -- Redis ----------------------------------------------------------------------------------


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
async def new_pubsub(redis_url: str) -> AsyncIterator[Callable[..., RedisPubSub]]:
    """Builds RedisPubSubs as separate API processes would, and closes them afterwards."""
    made: list[RedisPubSub] = []

    def make(**options) -> RedisPubSub:
        made.append(RedisPubSub.from_url(redis_url, **options))
        return made[-1]

    yield make
    for pubsub in made:
        await pubsub.close()


async def connections_named(redis: Redis, name: str) -> list[dict]:
    return [client for client in await redis.client_list() if client.get("name") == name]


async def subscribers_in_redis(redis: Redis, channel: str) -> int:
    ((_, count),) = await redis.pubsub_numsub(channel)
    return int(count)


async def test_many_subscribers_in_a_process_share_one_redis_connection(
    redis: Redis, new_pubsub
) -> None:
    process, other_process = new_pubsub(), new_pubsub()
    busy, quiet = channel_name(), channel_name()
    subscriptions = [process.subscribe(busy) for _ in range(50)]
    subscriptions += [process.subscribe(quiet) for _ in range(5)]
    await asyncio.gather(*(subscription.__aenter__() for subscription in subscriptions))
    try:
        (connection,) = await connections_named(redis, process.connection_name)
        assert connection["sub"] == "2"  # two channels, one connection
        assert await subscribers_in_redis(redis, busy) == 1
        assert process.subscriber_count(busy) == 50

        await other_process.publish(busy, "to all fifty")
        for subscription in subscriptions[:50]:
            assert await next_message(subscription) == b"to all fifty"
        await other_process.publish(quiet, "to five")
        for subscription in subscriptions[50:]:
            assert await next_message(subscription) == b"to five"  # nothing from ``busy``
    finally:
        for subscription in subscriptions:
            subscription.close()
    await eventually(lambda: _connection_channels(redis, process.connection_name, "0"))
    assert await subscribers_in_redis(redis, busy) == 0


async def _connection_channels(redis: Redis, name: str, expected: str) -> bool:
    (connection,) = await connections_named(redis, name)
    return connection["sub"] == expected


async def test_unsubscribing_stops_delivery_and_leaves_the_redis_channel(
    redis: Redis, new_pubsub
) -> None:
    process, publisher = new_pubsub(), new_pubsub()
    channel = channel_name()
    async with process.subscribe(channel) as staying:
        async with process.subscribe(channel) as leaving:
            await publisher.publish(channel, "both")
            assert await next_message(leaving) == b"both"
            assert await next_message(staying) == b"both"
        assert process.subscriber_count(channel) == 1
        assert await subscribers_in_redis(redis, channel) == 1  # still wanted by ``staying``
        await publisher.publish(channel, "one left")
        assert await next_message(staying) == b"one left"
        with pytest.raises(StopAsyncIteration):
            await next_message(leaving)
    await eventually(lambda: _no_subscribers(redis, channel))


async def _no_subscribers(redis: Redis, channel: str) -> bool:
    return await subscribers_in_redis(redis, channel) == 0


async def test_joining_and_leaving_quickly_keeps_redis_in_step(redis: Redis, new_pubsub) -> None:
    process, publisher = new_pubsub(), new_pubsub()
    channel = channel_name()

    async def come_and_go() -> None:
        async with process.subscribe(channel):
            pass

    for _ in range(10):
        await asyncio.gather(*(come_and_go() for _ in range(5)))
    async with process.subscribe(channel) as subscription:
        assert await subscribers_in_redis(redis, channel) == 1
        await publisher.publish(channel, "still subscribed")
        assert await next_message(subscription) == b"still subscribed"
    await eventually(lambda: _no_subscribers(redis, channel))


async def test_a_broken_connection_loses_its_subscribers_and_the_next_one_reconnects(
    redis: Redis, new_pubsub
) -> None:
    process, publisher = new_pubsub(), new_pubsub()
    channel = channel_name()
    async with process.subscribe(channel) as subscription:
        (connection,) = await connections_named(redis, process.connection_name)
        await redis.client_kill_filter(_id=connection["id"])
        with pytest.raises(SubscriptionLost):
            await next_message(subscription)
    assert process.subscriber_count() == 0

    async with process.subscribe(channel) as again:
        await publisher.publish(channel, "after reconnecting")
        assert await next_message(again) == b"after reconnecting"
    assert len(await connections_named(redis, process.connection_name)) == 1


async def test_a_stopping_process_ends_its_subscriptions_takes_no_new_ones_and_still_publishes(
    new_pubsub,
) -> None:
    """What ``ticketing serve`` does as SIGTERM arrives: its live clients start over
    elsewhere, while the requests still finishing announce what they changed."""
    stopping, staying = new_pubsub(), new_pubsub()
    channel = channel_name()
    async with stopping.subscribe(channel) as watching, staying.subscribe(channel) as elsewhere:
        stopping.end_subscriptions("the server is stopping")
        with pytest.raises(SubscriptionLost, match="stopping"):
            await next_message(watching)
        with pytest.raises(PubSubError, match="stopping"):
            async with stopping.subscribe(channel):
                pass
        await stopping.publish(channel, "one sold")
        assert await next_message(elsewhere) == b"one sold"
    assert stopping.subscriber_count() == 0


async def test_unreachable_redis_is_a_pubsub_error(new_pubsub) -> None:
    pubsub = RedisPubSub.from_url("redis://127.0.0.1:1/0")
    try:
        with pytest.raises(PubSubError):
            await pubsub.publish(channel_name(), "nobody hears")
        with pytest.raises(PubSubError):
            async with pubsub.subscribe(channel_name()):
                pass
        assert pubsub.subscriber_count() == 0
    finally:
        await pubsub.close()


async def test_publishing_availability_survives_an_unreachable_broker(caplog) -> None:
    pubsub = RedisPubSub.from_url("redis://127.0.0.1:1/0")
    kernel = SimpleNamespace(pubsub=pubsub)
    try:
        with caplog.at_level(logging.WARNING, logger="builtin_plugins.events.availability_feed"):
            await publish_availability(kernel, event_id=uuid.uuid4(), availability={})
    finally:
        await pubsub.close()
    assert "could not publish availability" in caplog.text


async def test_a_publisher_can_tell_whether_any_process_watches_a_channel(new_pubsub) -> None:
    """Publishers skip reading numbers nobody watches; a watcher in *another* process counts."""
    watcher, publisher = new_pubsub(), new_pubsub()
    channel = channel_name()
    assert await publisher.is_watched(channel) is False
    async with watcher.subscribe(channel):
        assert await publisher.is_watched(channel) is True
    assert await _eventually_unwatched(publisher, channel)

    local = InProcessPubSub()
    assert await local.is_watched(channel) is False
    async with local.subscribe(channel):
        assert await local.is_watched(channel) is True

    unreachable = RedisPubSub.from_url("redis://127.0.0.1:1/0")
    try:
        assert await unreachable.is_watched(channel) is True  # unsure: publish anyway
    finally:
        await unreachable.close()


async def _eventually_unwatched(pubsub: RedisPubSub, channel: str) -> bool:
    """Leaving unsubscribes in the background; wait for Redis to agree (bounded)."""
    for _ in range(100):
        if not await pubsub.is_watched(channel):
            return True
        await asyncio.sleep(0.02)
    return False
