"""Per-process values each good for one version of what they were read from.

A reader knows the current version from a statement it runs anyway (an event's
``catalog_version``, say) and asks for the value of that version: a hit costs no round
trip, and a miss (another version, or nothing kept) reads again and replaces it. At most
``size`` keys are kept; the least recently used goes first. One event loop per process,
so no lock is needed.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

Key = TypeVar("Key", bound=Hashable)
Value = TypeVar("Value")


class VersionedCache(Generic[Key, Value]):
    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("a cache keeps at least one key")
        self.size = size
        self._entries: OrderedDict[Key, tuple[int, Value]] = OrderedDict()

    def get(self, key: Key, version: int | None) -> Value | None:
        """The value kept for ``key`` if it is of ``version`` (never for ``None``)."""
        found = self._entries.get(key)
        if found is None or version is None or found[0] != version:
            return None
        self._entries.move_to_end(key)
        return found[1]

    def put(self, key: Key, version: int, value: Value) -> None:
        self._entries[key] = (version, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)
