"""Key/value cache: Redis when ``REDIS_URL`` is set, else an in-process store.

The in-process store is for a single process on a laptop; with several replicas the
cache (and rate limits) must live in Redis.
"""

from __future__ import annotations

import time
from typing import Protocol, cast

from redis.asyncio import Redis


def fixed_window(now: float, seconds: int) -> tuple[int, int]:
    """The fixed window of ``seconds`` that ``now`` (epoch seconds) falls in: its start
    (which names the window's counter) and the whole seconds until it resets, at least 1."""
    start = int(now // seconds) * seconds
    return start, max(1, int(start + seconds - now))


class Cache(Protocol):
    backend: str

    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes, *, ttl_seconds: int) -> None: ...

    async def delete(self, *keys: str) -> None: ...

    async def add(self, key: str, value: bytes, *, ttl_seconds: int) -> bool:
        """Set ``key`` only if it is absent; whether this call set it (a claim)."""
        ...

    async def incr_window(self, key: str, *, ttl_seconds: int) -> int:
        """Increment a counter that expires ``ttl_seconds`` after it was created."""
        ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...


class RedisCache:
    backend = "redis"

    def __init__(self, client: Redis) -> None:
        self.client = client

    @classmethod
    def from_url(cls, url: str) -> RedisCache:
        return cls(Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5))

    async def get(self, key: str) -> bytes | None:
        # the client is made without decode_responses, so Redis hands back bytes
        return cast("bytes | None", await self.client.get(key))

    async def set(self, key: str, value: bytes, *, ttl_seconds: int) -> None:
        await self.client.set(key, value, ex=ttl_seconds)

    async def delete(self, *keys: str) -> None:
        if keys:
            await self.client.delete(*keys)

    async def add(self, key: str, value: bytes, *, ttl_seconds: int) -> bool:
        return bool(await self.client.set(key, value, ex=ttl_seconds, nx=True))

    async def incr_window(self, key: str, *, ttl_seconds: int) -> int:
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, ttl_seconds, nx=True)
            count, _ = await pipe.execute()
        return int(count)

    async def ping(self) -> None:
        await self.client.ping()

    async def close(self) -> None:
        await self.client.aclose()


class InProcessCache:
    backend = "in-process"

    def __init__(self, clock=time.monotonic) -> None:
        self._items: dict[str, tuple[float, object]] = {}
        self._clock = clock

    def _live(self, key: str) -> object | None:
        item = self._items.get(key)
        if item is None:
            return None
        expires, value = item
        if expires <= self._clock():
            del self._items[key]
            return None
        return value

    async def get(self, key: str) -> bytes | None:
        value = self._live(key)
        return value if isinstance(value, bytes) else None

    async def set(self, key: str, value: bytes, *, ttl_seconds: int) -> None:
        self._items[key] = (self._clock() + ttl_seconds, value)

    async def delete(self, *keys: str) -> None:
        for key in keys:
            self._items.pop(key, None)

    async def add(self, key: str, value: bytes, *, ttl_seconds: int) -> bool:
        if self._live(key) is not None:
            return False
        await self.set(key, value, ttl_seconds=ttl_seconds)
        return True

    async def incr_window(self, key: str, *, ttl_seconds: int) -> int:
        current = self._live(key)
        if isinstance(current, int):
            expires = self._items[key][0]
            self._items[key] = (expires, current + 1)
            return current + 1
        self._items[key] = (self._clock() + ttl_seconds, 1)
        return 1

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        self._items.clear()
