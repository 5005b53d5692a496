"""The job queue: plugins' jobs registered as taskiq tasks on one broker.

With ``TICKETING_JOB_RUNNER=worker`` the broker is a Redis stream read by a consumer
group: an API process only enqueues, ``ticketing worker`` processes run the jobs. A
message is acknowledged once its run has finished, so a job whose worker was killed
stays pending and another worker claims it after ``TICKETING_JOB_CLAIM_AFTER_SECONDS``
(the stream's ``XAUTOCLAIM``). With ``inline`` (the default) the broker runs each job in
the process that enqueued it, so one process needs nothing else.

``enqueue(name, key=...)`` debounces: while a run of that job under that key is queued
and not yet started, another enqueue is dropped (the claim is ``SET NX`` in the cache,
which is Redis when ``REDIS_URL`` is set, so across processes). A run starts by
releasing the claim, so work that arrives while it runs queues the next run. That is
how the outbox's wake-ups and the periodic ticks stay one run at a time under a flash
sale, not one per order.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import make_url

from kernel.cache import Cache
from kernel.contracts.jobs import Job
from kernel.metrics import JOB_RUNS, JOB_SECONDS
from kernel.settings import Settings

if TYPE_CHECKING:
    from taskiq import AsyncBroker, ScheduleSource

    from kernel.context import Kernel

logger = logging.getLogger(__name__)

STREAM = "ticketing:jobs"
CONSUMER_GROUP = "ticketing-workers"
STREAM_MAX_LENGTH = 100_000
DELAYED_PREFIX = "ticketing:jobs:delayed"
# How long a debounce claim outlives a run that never started (its message lost).
QUEUED_TTL_SECONDS = 60
# A run's own argument naming the debounce claim it releases when it starts.
QUEUED_ARGUMENT = "_queued_key"
#: The debounce key of periodic runs, and of the wake-ups that stand for an early tick.
NEXT = "next"
# How long stopping an inline queue waits for the runs under way.
STOP_WAIT_SECONDS = 10


class UnknownJob(LookupError):
    """No plugin declared a job of that name."""


def namespace_of(database_url: str) -> str:
    """A deployment's name in shared Redis keys: its database (without the password), so
    two deployments, or two test databases, on one Redis never claim each other's runs."""
    plain = make_url(database_url).render_as_string(hide_password=True)
    return hashlib.sha256(plain.encode()).hexdigest()[:12]


class JobQueue:
    def __init__(self, settings: Settings, cache: Cache, *, namespace: str) -> None:
        self.settings = settings
        self.cache = cache
        self.namespace = namespace
        self.jobs: dict[str, Job] = {}
        #: Where a failed run waits for its retry (the worker's scheduler sends it on).
        self.delayed: ScheduleSource | None = None
        self._broker: AsyncBroker | None = None
        self._started = False

    @property
    def broker(self) -> AsyncBroker:
        """Made at first use: a command that queues nothing never imports taskiq."""
        if self._broker is None:
            self._broker = self._make_broker()
        return self._broker

    @property
    def runs_here(self) -> bool:
        """Whether this process runs jobs itself (inline), rather than a worker."""
        return self.settings.job_runner == "inline"

    def _make_broker(self) -> AsyncBroker:
        from taskiq import InMemoryBroker, SmartRetryMiddleware
        from taskiq_redis import RedisStreamBroker

        from kernel.jobs.schedule import DelayedRuns

        broker: AsyncBroker
        if self.settings.job_runner == "worker":
            assert self.settings.redis_url  # the settings refuse a worker runner without it
            broker = RedisStreamBroker(
                self.settings.redis_url,
                queue_name=f"{STREAM}:{self.namespace}",
                consumer_group_name=CONSUMER_GROUP,
                consumer_id="0",  # a new group reads what was queued before it existed
                idle_timeout=int(self.settings.job_claim_after_seconds * 1000),
                unacknowledged_lock_timeout=30,
                xread_block=1000,
                # acknowledged runs stay in a stream until trimmed: keep the last ~100,000
                # (hours of periodic runs), far more than can be pending at once
                maxlen=STREAM_MAX_LENGTH,
                approximate=True,
            )
            self.delayed = DelayedRuns(
                self.settings.redis_url,
                prefix=f"{DELAYED_PREFIX}:{self.namespace}",
                claims=self.cache,
                claim_prefix=f"jobs:{self.namespace}:retry",
            )
        else:
            broker = InMemoryBroker(max_async_tasks=self.settings.job_concurrency)
        broker.add_middlewares(
            SmartRetryMiddleware(
                default_retry_count=3,
                default_delay=2,
                use_delay_exponent=True,
                max_delay_exponent=600,
                use_jitter=True,
                schedule_source=self.delayed,
            )
        )
        return broker

    def register(self, kernel: Kernel, jobs: Iterable[Job]) -> None:
        for job in jobs:
            if job.name in self.jobs:
                raise ValueError(f"two jobs are named {job.name}")
            self.jobs[job.name] = job
            self.broker.register_task(
                self._runner(kernel, job),
                task_name=job.name,
                retry_on_error=job.retries > 0,
                max_retries=job.retries + 1,  # the middleware counts the first run
            )

    def _runner(self, kernel: Kernel, job: Job):
        async def run(**arguments: Any) -> Any:
            claim = arguments.pop(QUEUED_ARGUMENT, None)
            if claim:
                await self.cache.delete(claim)  # from now on, new work queues another run
            started = time.perf_counter()
            try:
                result = await job.run(kernel, **arguments)
            except Exception:
                JOB_RUNS.labels(job.name, "failed").inc()
                logger.exception("job failed", extra={"job": job.name})
                raise
            finally:
                JOB_SECONDS.labels(job.name).observe(time.perf_counter() - started)
            JOB_RUNS.labels(job.name, "succeeded").inc()
            return result

        run.__name__ = job.name.replace(".", "_").replace("-", "_")
        return run

    async def enqueue(self, name: str, *, key: str | None = None, **arguments: Any) -> bool:
        """Queue a run of ``name`` with JSON ``arguments``; with ``key``, only if no run
        under that key is queued and not started yet. Whether a run was queued."""
        task = self.broker.find_task(name)
        if task is None:
            raise UnknownJob(name)
        if key is not None:
            claim = self.queued_key(name, key)
            if not await self.cache.add(claim, b"1", ttl_seconds=QUEUED_TTL_SECONDS):
                return False
            arguments[QUEUED_ARGUMENT] = claim
        await task.kiq(**arguments)
        return True

    def queued_key(self, name: str, key: str) -> str:
        return f"jobs:{self.namespace}:queued:{name}:{key}"

    def tick_key(self, name: str, slot: int) -> str:
        return f"jobs:{self.namespace}:tick:{name}:{slot}"

    async def start(self) -> None:
        if not self._started:
            await self.broker.startup()
            self._started = True

    async def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        wait_all = getattr(self.broker, "wait_all", None)  # inline: its runs are our tasks
        if wait_all is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wait_all(), STOP_WAIT_SECONDS)
        await self.broker.shutdown()
