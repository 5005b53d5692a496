"""One contract for both caches: Redis (real server) and the in-process store.

Expiry is observed without fixed sleeps: the in-process cache runs on a fake clock that
the test moves; for Redis the test polls the key's remaining lifetime (``PTTL``) until
the wanted amount of it has passed.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from kernel.cache import Cache, InProcessCache, RedisCache

WAIT_SECONDS = 10


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


class InProcessHarness:
    """The in-process cache on a clock that only moves when the test says so."""

    def __init__(self) -> None:
        self.clock = FakeClock()
        self.start = self.clock.now
        self.cache: Cache = InProcessCache(clock=self.clock)

    async def wait_until_aged(self, key: str, seconds: float, *, ttl: float) -> None:
        """Let ``seconds`` pass since the test began (when its keys were written)."""
        self.clock.now = max(self.clock.now, self.start + seconds)

    async def seconds_left(self, key: str) -> float | None:
        item = self.cache._items.get(key)  # test-only peek at the expiry it keeps
        if item is None or item[0] <= self.clock.now:  # expired entries go lazily
            return None
        return item[0] - self.clock.now


class RedisHarness:
    """The Redis cache against the real server; waiting means polling ``PTTL``."""

    def __init__(self, cache: RedisCache) -> None:
        self.cache: Cache = cache
        self.client = cache.client

    async def wait_until_aged(self, key: str, seconds: float, *, ttl: float) -> None:
        """Poll until at most ``ttl - seconds`` of the key's lifetime is left.

        For the whole lifetime, wait until the key is gone: ``PTTL`` answers 0 while
        less than a millisecond is left, before the key has expired.
        """
        limit_ms = (ttl - seconds) * 1000
        deadline = asyncio.get_running_loop().time() + WAIT_SECONDS
        while True:
            left = await self.client.pttl(key)  # -2: the key is gone
            if left == -2 or (limit_ms > 0 and 0 <= left <= limit_ms):
                return
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"{key} still has {left} ms to live")
            await asyncio.sleep(0.02)

    async def seconds_left(self, key: str) -> float | None:
        left = await self.client.pttl(key)
        if left == -2:  # gone
            return None
        return float("inf") if left == -1 else left / 1000  # -1: no expiry at all


@pytest.fixture(params=["redis", "in-process"])
async def harness(request, redis_url: str) -> AsyncIterator[InProcessHarness | RedisHarness]:
    if request.param == "in-process":
        harness = InProcessHarness()
        yield harness
        await harness.cache.close()
        return
    cache = RedisCache.from_url(redis_url)
    yield RedisHarness(cache)
    await cache.close()


def key(name: str) -> str:
    return f"test:{uuid.uuid4().hex[:12]}:{name}"


async def test_backend_names_and_ping(harness) -> None:
    assert harness.cache.backend in {"redis", "in-process"}
    assert harness.cache.backend == ("redis" if isinstance(harness, RedisHarness) else "in-process")
    await harness.cache.ping()


async def test_set_get_overwrite_and_missing(harness) -> None:
    cache = harness.cache
    name = key("greeting")
    assert await cache.get(name) is None
    await cache.set(name, b"\x00hello\xff", ttl_seconds=60)
    assert await cache.get(name) == b"\x00hello\xff"
    await cache.set(name, b"again", ttl_seconds=60)
    assert await cache.get(name) == b"again"
    assert await cache.get(key("other")) is None


async def test_values_expire_after_their_ttl_and_only_then(harness) -> None:
    cache = harness.cache
    short, long = key("short"), key("long")
    await cache.set(short, b"brief", ttl_seconds=1)
    await cache.set(long, b"lasting", ttl_seconds=60)
    assert await cache.get(short) == b"brief"

    await harness.wait_until_aged(short, 1, ttl=1)

    assert await cache.get(short) is None
    assert await cache.get(long) == b"lasting"
    left = await harness.seconds_left(long)
    assert left is not None and 58 < left <= 60


async def test_delete_removes_several_keys_and_ignores_missing_ones(harness) -> None:
    cache = harness.cache
    first, second, kept = key("first"), key("second"), key("kept")
    for name in (first, second, kept):
        await cache.set(name, b"x", ttl_seconds=60)

    await cache.delete(first, second, key("never-set"))
    await cache.delete()

    assert await cache.get(first) is None
    assert await cache.get(second) is None
    assert await cache.get(kept) == b"x"


async def test_incr_window_counts_within_the_window_and_restarts_after_it(harness) -> None:
    cache = harness.cache
    name, other = key("hits"), key("other-hits")
    assert [await cache.incr_window(name, ttl_seconds=1) for _ in range(3)] == [1, 2, 3]
    assert await cache.incr_window(other, ttl_seconds=1) == 1, "counters are per key"

    await harness.wait_until_aged(name, 0.5, ttl=1)
    assert await cache.incr_window(name, ttl_seconds=1) == 4
    left = await harness.seconds_left(name)
    assert left is not None and left <= 0.5, "a later hit must not extend the window"

    await harness.wait_until_aged(name, 1, ttl=1)
    assert await harness.seconds_left(name) is None
    assert await cache.incr_window(name, ttl_seconds=1) == 1
    assert await cache.incr_window(name, ttl_seconds=1) == 2
