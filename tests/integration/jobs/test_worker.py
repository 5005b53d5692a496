"""``ticketing worker`` processes run the background jobs the API processes queue in
Redis: the outbox's deliveries, and a job killed mid-run is taken over by another worker
and completes once."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from builtin_plugins.analytics.projection import lock_organization
from kernel.db import Database
from kernel.outbox import record_event
from tests.integration.analytics.support import delivered, read_model, sell
from tests.integration.conftest import IDENTITY_ENV
from tests.integration.orders.refund_support import shop_url_fixture  # noqa: F401 -- fixture
from tests.integration.orders.support import http_fixture  # noqa: F401 -- fixture
from tests.support.ports import free_port

TICKETING = str(Path(sys.executable).parent / "ticketing")
WAIT_SECONDS = 90
CLAIM_AFTER_SECONDS = 2


@pytest.fixture
def worker_env(tmp_path: Path, database_url: str, redis_url: str) -> dict[str, str]:
    return {
        **os.environ,
        **IDENTITY_ENV,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "TICKETING_JOB_RUNNER": "worker",
        "TICKETING_JOB_CLAIM_AFTER_SECONDS": str(CLAIM_AFTER_SECONDS),
        "TICKETING_OUTBOX_POLL_SECONDS": "1",
        "TICKETING_MIGRATE_ON_STARTUP": "false",
        "TICKETING_DATA_DIR": str(tmp_path / "data"),
        "TICKETING_LOG_LEVEL": "INFO",
    }


@contextmanager
def worker(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    heartbeat = log.with_suffix(".alive")
    with log.open("w") as out:
        process = subprocess.Popen(
            [TICKETING, "worker"],
            env={**env, "TICKETING_WORKER_HEARTBEAT_FILE": str(heartbeat)},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + WAIT_SECONDS
        while not heartbeat.exists():
            assert process.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, "the worker did not start"
            time.sleep(0.1)
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=40)


def logged(log: Path, message: str) -> list[dict]:
    lines = []
    for line in log.read_text().splitlines():
        if line.startswith("{") and json.loads(line).get("message") == message:
            lines.append(json.loads(line))
    return lines


async def eventually(check, what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


async def test_a_worker_delivers_what_api_processes_only_queue(
    tmp_path: Path, database: Database, worker_env: dict[str, str]
) -> None:
    async with database.transaction() as session:
        event = await record_event(session, f"jobs.test-{uuid.uuid4().hex}", {"n": 1})

    async def dispatched() -> bool:
        async with database.sessions() as session:
            return bool(
                await session.scalar(
                    text("SELECT dispatched_at IS NOT NULL FROM outbox_event WHERE id = :id"),
                    {"id": event.id},
                )
            )

    port = free_port()
    env = {**worker_env, "TICKETING_WORKER_METRICS_PORT": str(port)}
    with worker(env, tmp_path / "worker.log") as process:
        await eventually(dispatched, "the worker to deliver the event")
        # and its metrics say so, for Prometheus to scrape
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics").text
        assert 'ticketing_job_runs_total{job="outbox.deliver",outcome="succeeded"}' in metrics
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=40) == 0
    assert logged(tmp_path / "worker.log", "ticketing worker stopped")


async def test_a_job_whose_worker_is_killed_is_run_by_another_and_completes_once(
    tmp_path: Path, http: httpx.AsyncClient, database: Database, worker_env: dict[str, str]
) -> None:
    sold = await sell(http, database)
    organization = sold.shop.venue.organization_id
    await delivered(database, organization)
    figures = await read_model(database, organization)
    assert figures, "the sales must show in the read model before the rebuild"

    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    with worker(worker_env, first_log) as first:
        # the test holds the lock every writer of the organization's figures takes, so
        # the rebuild stops mid-run, after the worker took the job
        async with database.transaction() as blocker:
            await lock_organization(blocker, uuid.UUID(organization))
            queued = subprocess.run(
                [TICKETING, "analytics", "rebuild", "--org", organization, "--queue"],
                env=worker_env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert queued.returncode == 0, queued.stderr

            async def rebuild_waiting() -> bool:
                async with database.sessions() as session:
                    return bool(
                        await session.scalar(
                            text(
                                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                                "AND NOT granted AND pid <> pg_backend_pid()"
                            )
                        )
                    )

            await eventually(rebuild_waiting, "the first worker's rebuild to wait for the lock")
            first.kill()  # SIGKILL: no goodbye, the job's message stays unacknowledged
            first.wait(timeout=10)
            with worker(worker_env, second_log) as second:
                await blocker.commit()  # the lock goes; the dead worker's transaction ends
                await eventually(
                    lambda: asyncio.sleep(0, bool(logged(second_log, "analytics rebuilt"))),
                    "the second worker to take the job over and finish it",
                )
                second.send_signal(signal.SIGTERM)
                assert second.wait(timeout=40) == 0

    assert logged(first_log, "analytics rebuilt") == []
    assert len(logged(second_log, "analytics rebuilt")) == 1
    # rebuilt from the same events: the same figures, none counted twice
    assert await read_model(database, organization) == figures
