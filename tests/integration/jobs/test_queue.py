"""The job queue's promises, against the real Redis: a keyed run is queued once however
many processes ask, a periodic run is sent once per period however many schedulers
there are, and a failing run is retried, then given up."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta

import pytest
from redis.asyncio import Redis
from taskiq import ScheduledTask
from taskiq.exceptions import ScheduledTaskCancelledError

from kernel.cache import RedisCache
from kernel.contracts.jobs import Job
from kernel.jobs import NEXT, JobQueue, UnknownJob
from kernel.jobs.schedule import PeriodicJobs
from tests.conftest import make_settings


def queue_for(tmp_path, redis_url: str, namespace: str, **settings) -> JobQueue:
    return JobQueue(
        make_settings(tmp_path, redis_url=redis_url, **settings),
        RedisCache.from_url(redis_url),
        namespace=namespace,
    )


async def nothing(kernel) -> None:
    return None


async def test_a_keyed_run_is_queued_once_until_it_starts(tmp_path, redis_url: str) -> None:
    namespace = uuid.uuid4().hex[:12]
    # two API processes of one deployment, queueing for the workers
    first, second = (
        queue_for(tmp_path, redis_url, namespace, job_runner="worker") for _ in range(2)
    )
    for queue in (first, second):
        queue.register(None, [Job("test.look-again", nothing)])  # type: ignore[arg-type]
        await queue.start()
    stream = first.broker.queue_name  # type: ignore[attr-defined]
    redis = Redis.from_url(redis_url)
    try:
        assert await first.enqueue("test.look-again", key=NEXT)
        assert not await second.enqueue("test.look-again", key=NEXT)
        assert not await first.enqueue("test.look-again", key=NEXT)
        assert await redis.xlen(stream) == 1
        # another key, or none, is another run
        assert await second.enqueue("test.look-again", key="other")
        assert await second.enqueue("test.look-again")
        assert await redis.xlen(stream) == 3
        with pytest.raises(UnknownJob):
            await first.enqueue("test.nobody-declared-this")
    finally:
        for queue in (first, second):
            await queue.stop()
            await queue.cache.close()
        await redis.delete(stream)
        await redis.aclose()


async def test_a_periodic_run_is_sent_by_one_scheduler_per_period(tmp_path, redis_url: str) -> None:
    namespace = uuid.uuid4().hex[:12]
    queues = [queue_for(tmp_path, redis_url, namespace) for _ in range(3)]
    for queue in queues:
        queue.register(None, [Job("test.tick", nothing, every=timedelta(seconds=60))])  # type: ignore[arg-type]
    try:
        schedules = [(await PeriodicJobs(q).get_schedules())[0] for q in queues]
        assert schedules[0].interval == 60
        sent = 0
        for source, task in zip((PeriodicJobs(q) for q in queues), schedules, strict=True):
            try:
                await source.pre_send(ScheduledTask(**task.model_dump()))
                sent += 1
            except ScheduledTaskCancelledError:
                pass
        assert sent == 1
    finally:
        for queue in queues:
            await queue.cache.close()


async def test_a_failing_run_is_retried_then_given_up(tmp_path, redis_url: str) -> None:
    queue = queue_for(tmp_path, redis_url, uuid.uuid4().hex[:12])  # inline
    attempts: list[float] = []

    async def flaky(kernel, *, fail_times: int) -> None:
        attempts.append(time.monotonic())
        if len(attempts) <= fail_times:
            raise RuntimeError("the provider is down")

    queue.register(None, [Job("test.flaky", flaky, retries=2)])  # type: ignore[arg-type]
    await queue.start()
    try:
        await queue.enqueue("test.flaky", fail_times=1)
        deadline = time.monotonic() + 30
        while len(attempts) < 2:
            assert time.monotonic() < deadline, "the failed run was not retried"
            await asyncio.sleep(0.05)
        attempts.clear()
        await queue.enqueue("test.flaky", fail_times=10)  # never succeeds
        while len(attempts) < 3:
            assert time.monotonic() < deadline, "the retries did not run"
            await asyncio.sleep(0.05)
        await queue.broker.wait_all()  # type: ignore[attr-defined]
        await asyncio.sleep(0)  # a fourth attempt would have been queued by now
        await queue.broker.wait_all()  # type: ignore[attr-defined]
        assert len(attempts) == 3, "two retries, then the run is given up"
    finally:
        await queue.stop()
        await queue.cache.close()
