"""Queueing an outbox run when an event commits, not only at the next periodic tick.

Every outbox write notifies ``NOTIFY_CHANNEL`` in its transaction, so the notification
arrives at commit. The waker holds a ``LISTEN`` connection and, woken, waits
``GATHER_SECONDS`` so the events of a busy moment go in one run, then queues
``outbox.deliver`` under the debounce key: one queued run however many orders
notified. Without the connection (the database restarting) it retries, and the
periodic tick still delivers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg
from sqlalchemy.engine import make_url

from kernel.jobs import NEXT, JobQueue
from kernel.outbox.publisher import NOTIFY_CHANNEL

logger = logging.getLogger(__name__)

DELIVER_JOB = "outbox.deliver"
# Under a flash sale every order notifies; a run per window, not per order.
GATHER_SECONDS = 0.05
RECONNECT_SECONDS = 2.0


class OutboxWaker:
    def __init__(self, database_url: str, queue: JobQueue) -> None:
        self.database_url = database_url
        self.queue = queue
        self._wake = asyncio.Event()
        self._listener: asyncpg.Connection | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._listen()
        self._task = asyncio.create_task(self._run(), name="outbox-waker")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._listener is not None and not self._listener.is_closed():
            await self._listener.close()

    async def _listen(self) -> None:
        if self._listener is not None and not self._listener.is_closed():
            return
        dsn = make_url(self.database_url).set(drivername="postgresql")
        try:
            self._listener = await asyncpg.connect(dsn.render_as_string(hide_password=False))
            await self._listener.add_listener(NOTIFY_CHANNEL, lambda *_: self._wake.set())
        except (OSError, asyncpg.PostgresError):
            if self._listener is not None and not self._listener.is_closed():
                await self._listener.close()
            self._listener = None
            logger.warning("outbox waker cannot LISTEN; the periodic run delivers", exc_info=True)

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=RECONNECT_SECONDS)
            if not self._wake.is_set():
                await self._listen()
                continue
            await asyncio.sleep(GATHER_SECONDS)  # let the next events join
            self._wake.clear()
            try:
                await self.queue.enqueue(DELIVER_JOB, key=NEXT)
            except Exception:
                logger.exception("outbox waker could not queue a run")
