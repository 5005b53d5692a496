"""The per-organization rule cache: one load for many concurrent misses, a lifetime, and
no stale copy kept past a write made in this process."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from builtin_plugins.taxes.cache import OrganizationCache

ORG = uuid.UUID(int=1)
OTHER = uuid.UUID(int=2)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Source:
    """A loader whose answers the test controls; counts and can hold back its loads."""

    def __init__(self) -> None:
        self.value = "v1"
        self.calls: list[uuid.UUID] = []
        self.gate: asyncio.Event | None = None

    async def __call__(self, organization_id: uuid.UUID) -> str:
        self.calls.append(organization_id)
        value = self.value  # read "the database" now, as a query would
        if self.gate is not None:
            await self.gate.wait()
        return value


async def test_concurrent_misses_share_one_load() -> None:
    source = Source()
    source.gate = asyncio.Event()
    cache = OrganizationCache(source)

    waiting = [asyncio.create_task(cache.get(ORG)) for _ in range(50)]
    await asyncio.sleep(0)  # let every task reach the shared load
    source.gate.set()

    assert await asyncio.gather(*waiting) == ["v1"] * 50
    assert source.calls == [ORG]


async def test_values_live_for_the_ttl_per_organization() -> None:
    source, clock = Source(), Clock()
    cache = OrganizationCache(source, ttl_seconds=30, clock=clock)

    assert await cache.get(ORG) == "v1"
    source.value = "v2"
    clock.now += 29.9
    assert await cache.get(ORG) == "v1"  # still fresh
    assert await cache.get(OTHER) == "v2"  # each organization on its own
    clock.now += 0.2
    assert await cache.get(ORG) == "v2"
    assert source.calls == [ORG, OTHER, ORG]


async def test_invalidation_drops_the_value_at_once() -> None:
    source = Source()
    cache = OrganizationCache(source)
    assert await cache.get(ORG) == "v1"

    source.value = "v2"
    cache.invalidate(ORG)

    assert await cache.get(ORG) == "v2"


async def test_a_load_overtaken_by_a_write_is_not_kept() -> None:
    source = Source()
    source.gate = asyncio.Event()
    cache = OrganizationCache(source)
    early = asyncio.create_task(cache.get(ORG))
    while not source.calls:  # until the load has read "v1" and waits
        await asyncio.sleep(0)

    source.value = "v2"  # a write commits...
    cache.invalidate(ORG)  # ...and invalidates
    source.gate.set()

    assert await early == "v1"  # that reader saw the old rules, as its query did
    assert await cache.get(ORG) == "v2"  # but they were not cached
    assert source.calls == [ORG, ORG]


async def test_a_failed_load_reaches_its_waiters_and_is_not_cached() -> None:
    calls = []

    async def broken(organization_id: uuid.UUID) -> str:
        calls.append(organization_id)
        if len(calls) == 1:
            raise ConnectionError("database away")
        return "back"

    cache = OrganizationCache(broken)
    with pytest.raises(ConnectionError):
        await cache.get(ORG)
    assert await cache.get(ORG) == "back"


async def test_a_full_cache_sweeps_expired_entries() -> None:
    clock = Clock()
    cache = OrganizationCache(Source(), ttl_seconds=30, max_entries=3, clock=clock)
    for n in range(3):
        await cache.get(uuid.UUID(int=100 + n))
    clock.now += 31
    await cache.get(ORG)

    assert len(cache._entries) == 1
