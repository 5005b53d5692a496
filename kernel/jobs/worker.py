"""``ticketing worker``: a process that runs the background jobs queued in Redis.

It starts the plugins as an API process does, then reads the queue's stream in the
consumer group with at most ``TICKETING_JOB_CONCURRENCY`` runs at once, sends the
periodic runs and wakes the outbox (:mod:`kernel.jobs.runtime`). A run's message is
acknowledged when the run has finished: one under way when the worker is killed is
claimed by another worker after ``TICKETING_JOB_CLAIM_AFTER_SECONDS``. SIGTERM stops
reading new runs and waits up to ``TICKETING_SHUTDOWN_TIMEOUT_SECONDS`` for those under
way (what it has not finished, another worker claims). While it
runs, it touches ``TICKETING_WORKER_HEARTBEAT_FILE``; ``ticketing worker --check``
(a container's health check) says whether that is recent. With
``TICKETING_WORKER_METRICS_PORT`` it serves its metrics for Prometheus there; with
``OTEL_*`` set it traces its jobs' SQL and HTTP as ``ticketing-worker``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import prometheus_client
from taskiq.receiver import Receiver

from kernel.cli_kernel import started_kernel
from kernel.jobs.runtime import JobRuntime
from kernel.plugin_manager import KernelPluginManager
from kernel.settings import Settings
from kernel.telemetry import tracing_from_environment

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 5.0
# A heartbeat older than this: the worker is stuck or gone.
STALE_AFTER_SECONDS = 30.0


class WorkerNotNeeded(RuntimeError):
    """With TICKETING_JOB_RUNNER=inline the API processes run the jobs themselves."""


async def run_worker(settings: Settings, plugins: KernelPluginManager) -> None:
    if settings.job_runner != "worker":
        raise WorkerNotNeeded(
            "TICKETING_JOB_RUNNER is inline, so the API processes run the jobs; "
            "set TICKETING_JOB_RUNNER=worker (and REDIS_URL) for API processes and workers"
        )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    tracing = tracing_from_environment(default_service="ticketing-worker")
    async with started_kernel(settings=settings, plugins=plugins) as kernel:
        if tracing is not None:
            tracing.start(kernel)  # the jobs' SQL and outgoing HTTP
        runtime = JobRuntime(kernel)
        await runtime.start(run_jobs=True)
        broker = kernel.jobs.broker
        broker.is_worker_process = True
        finish = asyncio.Event()
        if settings.worker_metrics_port is not None:
            prometheus_client.start_http_server(settings.worker_metrics_port)
        heartbeat = asyncio.create_task(_beat(settings.worker_heartbeat_file))
        try:
            with ThreadPoolExecutor(max_workers=1) as executor:
                receiver = Receiver(
                    broker,
                    executor=executor,
                    max_async_tasks=settings.job_concurrency,
                    run_startup=False,
                    wait_tasks_timeout=settings.shutdown_timeout_seconds,
                )
                listening = asyncio.create_task(receiver.listen(finish), name="job-receiver")
                stopping = asyncio.create_task(stop.wait())
                logger.info(
                    "ticketing worker ready",
                    extra={
                        "jobs": sorted(kernel.jobs.jobs),
                        "concurrency": settings.job_concurrency,
                    },
                )
                await asyncio.wait({listening, stopping}, return_when=asyncio.FIRST_COMPLETED)
                logger.info("ticketing worker stopping: finishing the runs under way")
                finish.set()
                stopping.cancel()
                await listening
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
            settings.worker_heartbeat_file.unlink(missing_ok=True)
            await runtime.stop()
            if tracing is not None:
                await asyncio.to_thread(tracing.stop)  # sends the spans still batched
    logger.info("ticketing worker stopped")


async def _beat(path: Path) -> None:
    while True:
        path.touch()
        await asyncio.sleep(HEARTBEAT_SECONDS)


def healthy(path: Path) -> bool:
    """Whether a worker touched ``path`` within ``STALE_AFTER_SECONDS``."""
    try:
        return time.time() - path.stat().st_mtime < STALE_AFTER_SECONDS
    except FileNotFoundError:
        return False
