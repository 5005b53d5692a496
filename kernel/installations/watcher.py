"""Keeps a process's plugin states current without a restart.

Two ways in, either enough alone: a pub/sub nudge after every change (immediate), and a
poll of the generation row every ``poll_seconds`` (so a lost nudge, a Redis outage or a
change made by a process without Redis still arrives within about that long). Started
and stopped with the app (:mod:`kernel.app`).

Whenever the generation moves past the one last acted on, ``on_change`` runs too (the
app makes its bundle plugins match the deployments there). The watcher keeps its own
mark: the states may have seen the new number first, through a request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from kernel.db import Database
from kernel.installations.generation import CHANNEL, current
from kernel.installations.states import InstalledPluginStates
from kernel.pubsub import PubSub

logger = logging.getLogger(__name__)

RESUBSCRIBE_SECONDS = 1.0


class GenerationWatcher:
    def __init__(
        self,
        states: InstalledPluginStates,
        lookups: Database,
        pubsub: PubSub,
        *,
        poll_seconds: float = 0.5,
        on_change: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.states = states
        self.on_change = on_change
        self.acted_on = -1  # the generation ``on_change`` last ran for
        self.lookups = lookups
        self.pubsub = pubsub
        self.poll_seconds = poll_seconds
        self._nudged = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Read the generation (``on_change`` is the caller's to run once at start-up)."""
        try:
            await self.check(act=False)
        except Exception:
            logger.warning("could not read the plugin generation at start-up", exc_info=True)
        self._tasks = [
            asyncio.create_task(self._poll(), name="plugin generation: poll"),
            asyncio.create_task(self._listen(), name="plugin generation: listen"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def check(self, *, act: bool = True) -> bool:
        """Read the generation; ``True`` when it moved (the cache was dropped). When it
        moved past the one last acted on, run ``on_change`` (unless ``act`` is false)."""
        async with self.lookups.sessions() as session:
            generation = await current(session)
        moved = self.states.moved_to(generation)
        if generation > self.acted_on:
            if act and self.on_change is not None:
                await self.on_change()
            self.acted_on = generation
        return moved

    async def _poll(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_seconds):
                    await self._nudged.wait()
            self._nudged.clear()
            try:
                await self.check()
            except Exception:
                logger.warning("could not read the plugin generation", exc_info=True)

    async def _listen(self) -> None:
        while True:
            try:
                async with self.pubsub.subscribe(CHANNEL) as messages:
                    self._nudged.set()  # anything published before we listened
                    async for _message in messages:
                        self._nudged.set()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.info("plugin generation nudges interrupted; polling meanwhile")
            await asyncio.sleep(RESUBSCRIBE_SECONDS)
