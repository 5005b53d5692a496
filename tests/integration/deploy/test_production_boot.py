"""A production deployment's first start, as an operator runs it: ``ticketing secrets
generate``, then ``ticketing migrate``, ``ticketing serve`` and ``ticketing worker`` with
TICKETING_ENV=production, the job runner compose.yml sets, that file and the real
PostgreSQL and Redis, nothing else. Production invents no secret, so a missing one stops
the process; the generated file is enough to serve and to run the jobs."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from kernel.db import Database
from kernel.outbox import record_event
from tests.support.compose_files import parse_env_file
from tests.support.databases import create_database, drop_database
from tests.support.openapi_contract import checked_client
from tests.support.ports import free_port

TICKETING = str(Path(sys.executable).parent / "ticketing")
START_TIMEOUT_SECONDS = 90
# Only what any process gets from its system: no secret of the test run leaks in.
SYSTEM_VARIABLES = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")


@pytest.fixture
async def fresh_database() -> AsyncIterator[str]:
    url = await create_database("ticketing_production")
    yield url
    await drop_database(url)


def _run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TICKETING, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )


def _wait_ready(url: str, process: subprocess.Popen, log: Path) -> httpx.Response:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()[-3000:]
        try:
            ready = httpx.get(f"{url}/health/ready", timeout=5)
            if ready.status_code == 200:
                return ready
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"not ready in {START_TIMEOUT_SECONDS} s: {log.read_text()[-3000:]}")


async def test_a_production_process_starts_from_the_generated_secrets_alone(
    tmp_path: Path, fresh_database: str, redis_url: str
) -> None:
    system = {name: os.environ[name] for name in SYSTEM_VARIABLES if name in os.environ}
    generated = _run(["secrets", "generate", "--output", "secrets.env"], system, tmp_path)
    assert generated.returncode == 0, generated.stderr
    secrets = parse_env_file((tmp_path / "secrets.env").read_text())
    data = tmp_path / "data"
    env = {
        **system,
        **secrets,
        "TICKETING_ENV": "production",
        "DATABASE_URL": fresh_database,
        "REDIS_URL": redis_url,
        "TICKETING_DATA_DIR": str(data),
        "TICKETING_MIGRATE_ON_STARTUP": "false",
        "TICKETING_LOG_LEVEL": "WARNING",
        "TICKETING_JOB_RUNNER": "worker",  # as compose.yml: the API only queues
        "TICKETING_WORKER_HEARTBEAT_FILE": str(tmp_path / "worker.alive"),
    }

    without_keys = {k: v for k, v in env.items() if k != "TICKETING_ENCRYPTION_KEYS"}
    refused = _run(["migrate"], without_keys, tmp_path)
    assert refused.returncode != 0
    assert "TICKETING_ENCRYPTION_KEYS must be set in production" in refused.stderr

    migrated = _run(["migrate"], env, tmp_path)
    assert migrated.returncode == 0, migrated.stderr
    assert "upgraded to heads" in migrated.stdout

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [TICKETING, "serve", "--port", str(port)],
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        ready = _wait_ready(url, process, log)
        checks = ready.json()["checks"]
        assert checks["database"]["status"] == "ok"
        assert checks["cache"] == {"backend": "redis", "status": "ok"}

        async with checked_client(url, timeout=10) as api:
            events = await api.get("/api/v1/events")
        assert events.status_code == 200, events.text
        assert events.json()["items"] == []
        # Every secret came from the file: none was invented into the data directory.
        assert not (data / "secrets.json").exists()

        await _a_worker_runs_the_jobs(env, tmp_path, fresh_database)

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0, log.read_text()[-3000:]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)


async def _a_worker_runs_the_jobs(env: dict[str, str], cwd: Path, database_url: str) -> None:
    """The worker of that deployment reports healthy and delivers a committed event."""
    log = cwd / "worker.log"
    with log.open("w") as out:
        worker = subprocess.Popen(
            [TICKETING, "worker"], env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT
        )
    database = Database(database_url, pool_size=1, max_overflow=0)
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not Path(env["TICKETING_WORKER_HEARTBEAT_FILE"]).exists():
            assert worker.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, f"worker not started: {log.read_text()[-3000:]}"
            await asyncio.sleep(0.2)
        assert _run(["worker", "--check"], env, cwd).returncode == 0  # the health check
        async with database.transaction() as session:
            event = await record_event(session, "deployment.checked", {"by": "the boot test"})
        while True:
            async with database.sessions() as session:
                done = await session.scalar(
                    text("SELECT dispatched_at IS NOT NULL FROM outbox_event WHERE id = :id"),
                    {"id": event.id},
                )
            if done:
                break
            assert time.monotonic() < deadline, f"not delivered: {log.read_text()[-3000:]}"
            await asyncio.sleep(0.2)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=60) == 0, log.read_text()[-3000:]
    finally:
        await database.dispose()
        if worker.poll() is None:
            worker.kill()
            worker.wait(timeout=30)
