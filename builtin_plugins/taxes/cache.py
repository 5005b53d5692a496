"""An in-process cache of each organization's tax rules and settings.

The tax hook runs for every priced line on the buying path (cart, checkout), so it must
not query the database each time: an organization's active rules and rounding mode are
loaded once and kept :data:`TTL_SECONDS`. An organization without rules is cached too
(as empty), so it costs one dictionary lookup per line.

* Concurrent misses for one organization share one load (a flash sale's first second
  costs one query, not thousands).
* Every rule or settings write in this process invalidates the organization's entry
  after its transaction committed; a load that was already running when the write
  committed is not stored (a generation counter tells), so this process never keeps a
  stale copy past a write it made.
* Other API replicas keep their copy until it expires: a change reaches their buyers
  at most :data:`TTL_SECONDS` later. The organizer's preview always reads the database.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

TTL_SECONDS = 30.0
MAX_ENTRIES = 10_000  # organizations kept at once; expired entries are swept past it

Value = TypeVar("Value")


@dataclass(slots=True)
class _Entry(Generic[Value]):
    value: Value
    expires_at: float


def _retrieve(task: asyncio.Task) -> None:
    if not task.cancelled():
        task.exception()


class OrganizationCache(Generic[Value]):
    """``get`` an organization's value (loading it at most once at a time), ``invalidate``
    it after a write. One instance per event loop: loads are tasks of that loop."""

    def __init__(
        self,
        load: Callable[[uuid.UUID], Awaitable[Value]],
        *,
        ttl_seconds: float = TTL_SECONDS,
        max_entries: int = MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._load = load
        self._ttl = ttl_seconds
        self._max_entries = max_entries
        self._clock = clock
        self._entries: dict[uuid.UUID, _Entry[Value]] = {}
        self._loading: dict[uuid.UUID, asyncio.Task[Value]] = {}
        self._generations: dict[uuid.UUID, int] = {}
        self.loads = 0  # how many times the database was asked (for tests and metrics)

    async def get(self, organization_id: uuid.UUID) -> Value:
        entry = self._entries.get(organization_id)
        if entry is not None and entry.expires_at > self._clock():
            return entry.value
        task = self._loading.get(organization_id)
        if task is None:
            task = asyncio.ensure_future(self._fill(organization_id))
            task.add_done_callback(_retrieve)  # a failure nobody awaited is not "lost"
            self._loading[organization_id] = task
        # shielded: a buyer who disconnects does not cancel the others' load
        return await asyncio.shield(task)

    def invalidate(self, organization_id: uuid.UUID) -> None:
        """Forget the organization's value; loads already running will not be stored."""
        self._generations[organization_id] = self._generations.get(organization_id, 0) + 1
        self._entries.pop(organization_id, None)
        self._loading.pop(organization_id, None)

    async def _fill(self, organization_id: uuid.UUID) -> Value:
        generation = self._generations.get(organization_id, 0)
        try:
            self.loads += 1
            value = await self._load(organization_id)
        finally:
            if self._loading.get(organization_id) is asyncio.current_task():
                del self._loading[organization_id]
        if self._generations.get(organization_id, 0) == generation:
            self._store(organization_id, value)
        return value

    def _store(self, organization_id: uuid.UUID, value: Value) -> None:
        now = self._clock()
        if len(self._entries) >= self._max_entries:
            self._entries = {k: e for k, e in self._entries.items() if e.expires_at > now}
            if len(self._entries) >= self._max_entries:
                self._entries.clear()  # all fresh: start over rather than grow
        self._entries[organization_id] = _Entry(value, now + self._ttl)
