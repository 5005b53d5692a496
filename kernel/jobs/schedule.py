"""Periodic jobs: one run per period across every process that schedules them.

Each process that runs jobs (every ``ticketing worker``, or the API process inline)
runs taskiq's scheduler over :class:`PeriodicJobs`. Before a tick is sent, its slot
(the period's number since the epoch) is claimed with ``SET NX`` in the cache, so of
several schedulers one sends it; and it is queued under the debounce key ``next``, so
a tick that finds a run still queued (the workers busy) adds nothing.
"""

from __future__ import annotations

import time
from datetime import timedelta

from taskiq import ScheduledTask, ScheduleSource, TaskiqScheduler
from taskiq.api import run_scheduler_task
from taskiq.exceptions import ScheduledTaskCancelledError
from taskiq_redis import ListRedisScheduleSource

from kernel.cache import Cache
from kernel.jobs.queue import NEXT, QUEUED_ARGUMENT, QUEUED_TTL_SECONDS, JobQueue


class PeriodicJobs(ScheduleSource):
    def __init__(self, queue: JobQueue) -> None:
        self.queue = queue

    async def get_schedules(self) -> list[ScheduledTask]:
        return [
            ScheduledTask(
                task_name=job.name,
                labels={},
                args=[],
                kwargs={QUEUED_ARGUMENT: self.queue.queued_key(job.name, NEXT)},
                schedule_id=f"periodic:{job.name}",
                interval=int(job.every.total_seconds()),
            )
            for job in self.queue.jobs.values()
            if job.every is not None
        ]

    async def pre_send(self, task: ScheduledTask) -> None:
        assert isinstance(task.interval, int)
        slot = int(time.time() // task.interval)
        tick = self.queue.tick_key(task.task_name, slot)
        cache = self.queue.cache
        if not await cache.add(tick, b"1", ttl_seconds=task.interval * 2 + 1):
            raise ScheduledTaskCancelledError  # another scheduler sent this period's run
        if not await cache.add(task.kwargs[QUEUED_ARGUMENT], b"1", ttl_seconds=QUEUED_TTL_SECONDS):
            raise ScheduledTaskCancelledError  # a run is still queued


class DelayedRuns(ListRedisScheduleSource):
    """Failed runs waiting for their retry. Every worker's scheduler reads them; the one
    that claims a retry (``SET NX``) sends it, so a retry is not sent once per worker."""

    def __init__(self, url: str, *, prefix: str, claims: Cache, claim_prefix: str) -> None:
        super().__init__(url, prefix=prefix)
        self.claims = claims
        self.claim_prefix = claim_prefix

    async def pre_send(self, task: ScheduledTask) -> None:
        claim = f"{self.claim_prefix}:{task.schedule_id}"
        if not await self.claims.add(claim, b"1", ttl_seconds=86_400):
            raise ScheduledTaskCancelledError


async def run_schedules(queue: JobQueue) -> None:
    """Send periodic runs (and failed runs' delayed retries) until cancelled."""
    sources: list[ScheduleSource] = [PeriodicJobs(queue)]
    if queue.delayed is not None:
        sources.append(queue.delayed)
    scheduler = TaskiqScheduler(queue.broker, sources)
    # the delayed retries are read by the minute they are due: look often
    await run_scheduler_task(scheduler, interval=timedelta(seconds=5))
