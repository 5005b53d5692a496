"""Starting a process's share of the background work.

Every process registers every job (the kernel's ``outbox.deliver`` and each plugin's
``ticketing_jobs``) so that it can enqueue any of them. A process that runs jobs (a
``ticketing worker``, or the API process with ``TICKETING_JOB_RUNNER=inline``) also runs
the scheduler and the outbox waker; a worker runs the queue's receiver besides
(:mod:`kernel.jobs.worker`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from kernel.outbox.jobs import deliver_job, outbox_relay
from kernel.outbox.relay import OutboxRelay
from kernel.outbox.waker import OutboxWaker

if TYPE_CHECKING:
    from kernel.context import Kernel

logger = logging.getLogger(__name__)


class JobRuntime:
    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self.relay: OutboxRelay = outbox_relay(kernel)
        self._waker: OutboxWaker | None = None
        self._scheduler: asyncio.Task[None] | None = None

    async def start(self, *, run_jobs: bool) -> None:
        kernel = self.kernel
        queue = kernel.jobs
        queue.register(kernel, [deliver_job(self.relay, kernel.settings.outbox_poll_seconds)])
        for _slug, jobs in kernel.plugins.collect("ticketing_jobs"):
            queue.register(kernel, jobs or ())
        await queue.start()
        if not run_jobs:
            return
        from kernel.jobs.schedule import run_schedules  # taskiq's scheduler, where jobs run

        self._scheduler = asyncio.create_task(run_schedules(queue), name="job-scheduler")
        self._waker = OutboxWaker(kernel.database.url, queue)
        await self._waker.start()

    async def stop(self) -> None:
        """Stop sending new runs, then let the queue finish (inline: the runs under way)."""
        waker, self._waker = self._waker, None
        if waker is not None:
            await waker.stop()
        scheduler, self._scheduler = self._scheduler, None
        if scheduler is not None:
            scheduler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await scheduler
        await self.kernel.jobs.stop()
