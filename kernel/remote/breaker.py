"""A circuit breaker per (remote plugin, hook), its state shared by every API process.

State lives in the kernel's cache (Redis when configured, else in-process), so one
process's failures open the breaker for all:

* **closed**: calls go through; each is counted in a fixed window of ``window``
  seconds. When, after an error, the window holds at least ``min_calls`` calls of
  which at least ``threshold`` are errors, the breaker opens.
* **open** for ``cooldown`` seconds: no call is made, the hook's policy answers at once.
* **half-open** after that: one caller (an atomic counter picks it) probes; success
  closes the breaker, failure opens it again for another cool-down.

`purgatory` was considered: it opens after consecutive failures, not on an error rate
over a minimum count, and keeps its own Redis client; this is the small part we need.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from enum import IntEnum

from prometheus_client import Gauge

from kernel.cache import Cache

logger = logging.getLogger(__name__)

BREAKER_STATE = Gauge(
    "ticketing_remote_breaker_state",
    "Circuit breaker of a remote plugin's hook: 0 closed, 1 half-open, 2 open.",
    ["plugin", "hook"],
    # One state every process reads from the cache: the last one any live worker saw.
    multiprocess_mode="livemostrecent",
)
TRIPPED_TTL_SECONDS = 24 * 3600


class State(IntEnum):
    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


@dataclass(frozen=True, slots=True)
class BreakerSettings:
    threshold: float = 0.5
    min_calls: int = 10
    window_seconds: int = 60
    cooldown_seconds: int = 30


class Breaker:
    """The breakers of every remote hook, read and written through ``cache``."""

    def __init__(self, cache: Cache, settings: BreakerSettings) -> None:
        self.cache = cache
        self.settings = settings

    def _key(self, plugin: str, hook: str, part: str) -> str:
        return f"remote-breaker:{plugin}:{hook}:{part}"

    async def state(self, plugin: str, hook: str) -> State:
        try:
            if await self.cache.get(self._key(plugin, hook, "open")) is not None:
                state = State.OPEN
            elif await self.cache.get(self._key(plugin, hook, "tripped")) is not None:
                state = State.HALF_OPEN
            else:
                state = State.CLOSED
        except Exception:  # the breaker never stops a sale by itself
            logger.warning("circuit breaker state unreadable; calling", exc_info=True)
            state = State.CLOSED
        BREAKER_STATE.labels(plugin=plugin, hook=hook).set(state)
        return state

    async def admit(self, plugin: str, hook: str) -> tuple[bool, State]:
        """Whether a call may be made now, and the state it was made in."""
        state = await self.state(plugin, hook)
        if state is State.CLOSED:
            return True, state
        if state is State.OPEN:
            return False, state
        try:
            probe = await self.cache.incr_window(
                self._key(plugin, hook, "probe"), ttl_seconds=self.settings.cooldown_seconds
            )
        except Exception:
            return False, state
        return probe == 1, state

    async def record(self, plugin: str, hook: str, state: State, *, ok: bool) -> None:
        """Count one call's outcome, opening or closing the breaker as it says."""
        try:
            if state is State.HALF_OPEN:
                if ok:
                    await self._close(plugin, hook)
                else:
                    await self._open(plugin, hook)
                return
            window = int(time.time() // self.settings.window_seconds)
            ttl = self.settings.window_seconds * 2
            calls = await self.cache.incr_window(
                self._key(plugin, hook, f"calls:{window}"), ttl_seconds=ttl
            )
            if ok:
                return
            errors = await self.cache.incr_window(
                self._key(plugin, hook, f"errors:{window}"), ttl_seconds=ttl
            )
            if calls >= self.settings.min_calls and errors / calls >= self.settings.threshold:
                await self._open(plugin, hook)
        except Exception:
            logger.warning("circuit breaker state not recorded", exc_info=True)

    async def _open(self, plugin: str, hook: str) -> None:
        await self.cache.set(
            self._key(plugin, hook, "open"), b"1", ttl_seconds=self.settings.cooldown_seconds
        )
        await self.cache.set(
            self._key(plugin, hook, "tripped"), b"1", ttl_seconds=TRIPPED_TTL_SECONDS
        )
        await self.cache.delete(self._key(plugin, hook, "probe"))
        BREAKER_STATE.labels(plugin=plugin, hook=hook).set(State.OPEN)
        logger.warning(
            "remote plugin circuit breaker opened", extra={"plugin": plugin, "hook": hook}
        )

    async def _close(self, plugin: str, hook: str) -> None:
        window = int(time.time() // self.settings.window_seconds)
        await self.cache.delete(
            self._key(plugin, hook, "tripped"),
            self._key(plugin, hook, "probe"),
            self._key(plugin, hook, f"calls:{window}"),
            self._key(plugin, hook, f"errors:{window}"),
        )
        BREAKER_STATE.labels(plugin=plugin, hook=hook).set(State.CLOSED)
        logger.info("remote plugin circuit breaker closed", extra={"plugin": plugin, "hook": hook})
